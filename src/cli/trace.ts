/**
 * Step timings for bench/cli.ts: with WEFT_TRACE=1 the CLI prints, on exit, milliseconds since
 * the process started at each marked step ("weft-trace: main=95.1 request:POST=101.3 …").
 */
const on = process.env.WEFT_TRACE === '1';
const marks: string[] = [];

export function mark(step: string): void {
  if (!on) return;
  if (marks.length === 0)
    process.once('exit', () => process.stderr.write(`weft-trace: ${marks.join(' ')} exit=${performance.now().toFixed(1)}\n`));
  marks.push(`${step}=${performance.now().toFixed(1)}`);
}
