/**
 * `weft policy create -f FILE | ls | inspect NAME | rm NAME` (like calicoctl): FILE is YAML or
 * JSON in the shape of Calico's NetworkPolicy / GlobalNetworkPolicy / Profile. weftd checks the
 * file (every problem listed, nothing stored) and stores it in the cluster store in one
 * transaction; every host enforces it for its own endpoints.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { FORMAT_OPTION, printList, write, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';
import { InvalidArgumentError } from '../errors.js';

interface Resource {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { order?: number; selector?: string; types?: string[] };
}

const policyView: View<Resource> = {
  columns: [
    { header: 'NAME', cell: (r) => r.metadata.name },
    { header: 'KIND', cell: (r) => r.kind },
    { header: 'NETWORK', cell: (r) => r.metadata.namespace ?? (r.kind === 'Profile' ? r.metadata.name : '*') },
    { header: 'ORDER', cell: (r) => (r.spec?.order === undefined ? '' : String(r.spec.order)) },
    { header: 'SELECTOR', cell: (r) => r.spec?.selector ?? '' },
    { header: 'TYPES', cell: (r) => (r.spec?.types ?? []).join(',') },
  ],
  jsonList: 'lines',
};

/**
 * The file's text, sent as it is: weftd parses and checks it (every problem listed, nothing
 * stored when there is one). The CLI loads no parser: yaml, zod and the policy model were most of
 * this command's start-up, seconds on a loaded host, where `policy rm` took a tenth of it.
 */
function readPolicyFile(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError('file', `cannot read ${file}: ${(err as Error).message}`, err);
  }
}

export function register(program: Command, cli: CliContext): void {
  const policy = program.command('policy').description('Calico-style network policies, stored in the cluster and enforced on every host');
  policy
    .command('create')
    .alias('apply')
    .description('create or replace the policies and profiles in FILE (YAML or JSON; - for stdin)')
    .requiredOption('-f, --file <file>', 'policy file')
    .action(async (o: { file: string }) => {
      const text = readPolicyFile(o.file);
      const source = o.file === '-' ? 'stdin' : o.file;
      const r = await cli.client().request<{ policies: string[]; profiles: string[] }>('POST', '/v1/policies', { text, source });
      write([...r.policies, ...r.profiles.map((p) => `profile ${p}`)].map((n) => `${n}\n`).join(''));
    });
  policy
    .command('ls')
    .description('list policies and profiles: name, kind, network, order, selector, types')
    .option('-q, --quiet', 'only names')
    .option(...FORMAT_OPTION)
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const format = parseFormat(o.format);
      const list = await cli.client().request<Resource[]>('GET', '/v1/policies');
      if (o.quiet && format.kind === 'default') return write(list.map((r) => `${r.metadata.name}\n`).join(''));
      printList(list, format, policyView);
    });
  policy
    .command('inspect')
    .description('show policies as stored (Calico v3 resources, JSON or --format)')
    .argument('<name...>')
    .option(...FORMAT_OPTION)
    .action(async (names: string[], o: { format?: string }) => {
      const format = parseFormat(o.format);
      const out: Resource[] = [];
      for (const n of names) out.push(await cli.client().request<Resource>('GET', `/v1/policies/${encodeURIComponent(n)}`));
      printList(out, format.kind === 'default' ? { kind: 'json' } : format, { ...policyView, jsonList: 'array' });
    });
  policy
    .command('rm')
    .description('remove policies (every host stops enforcing them)')
    .argument('<name...>')
    .action(async (names: string[]) => {
      for (const n of names) {
        await cli.client().request('DELETE', `/v1/policies/${encodeURIComponent(n)}`);
        write(`${n}\n`);
      }
    });
}
