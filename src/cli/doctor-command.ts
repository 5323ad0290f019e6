/** `weft doctor [--repair]`: compare the store with the kernel, report and optionally repair. */
import type { Command } from 'commander';
import type { WeftClient } from './client.js';
import type { DoctorReport } from '../controller/doctor.js';
import { formatOf, printJson } from './output.js';

export function registerDoctorCommand(program: Command, client: () => WeftClient): void {
  program
    .command('doctor')
    .description('check that the kernel matches the store (links, addresses, routes, allocations); --repair fixes what it can')
    .option('--repair', 'reconcile and report what is left')
    .option('--format <fmt>', 'table or json', 'table')
    .action(async (o: { repair?: boolean; format?: string }) => {
      const r = await client().request<DoctorReport>('GET', `/v1/doctor${o.repair ? '?repair=true' : ''}`);
      if (formatOf(o) === 'json') printJson(r);
      else {
        const c = r.counts;
        process.stdout.write(`${c.networks} networks, ${c.sandboxes} sandboxes, ${c.endpoints} endpoints, ${c.allocations} allocations\n`);
        for (const x of r.repaired ?? []) process.stdout.write(`repaired: ${x}\n`);
        for (const x of r.violations) process.stdout.write(`violation: ${x}\n`);
        process.stdout.write(r.ok ? 'ok\n' : `${r.violations.length} violation(s)\n`);
      }
      if (!r.ok) process.exitCode = 3;
    });
}
