/** Commander's collector for repeatable options (`--flag a --flag b` → ['a', 'b']), for weft's and weftd's command lines. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
