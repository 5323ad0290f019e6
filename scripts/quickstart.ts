/**
 * The main job, end to end, on the embedded default store (SQLite): start weftd inside a
 * throwaway host namespace, create a user-defined bridge network, run a server and a client
 * sandbox that talk over it, show what weft recorded, and remove everything again.
 */
import { SimHost, NETTOOL, waitFor } from '../src/lab/sim-host.js';
import type { SandboxView } from '../src/controller/inspect.js';

const say = (s: string): void => void process.stdout.write(s + '\n');

async function main(): Promise<number> {
  const host = await SimHost.create('quickstart', ['--firewall', 'nftables']);
  try {
    say(`• weftd starting in namespace ${host.ns} (store: SQLite at ${host.stateDir}/weft.db)`);
    await host.start();
    say('$ weft network create --subnet 10.88.0.0/24 demo');
    say(await host.cliOk(['network', 'create', '--subnet', '10.88.0.0/24', 'demo']));
    say('$ weft run -d --name web --network demo,alias=www -- node nettool.js tcp-server 8080');
    const webId = (
      await host.cliOk(['run', '-d', '--name', 'web', '--network', 'demo,alias=www', '--', process.execPath, NETTOOL, 'tcp-server', '8080'])
    ).trim();
    const web = await host.client.request<SandboxView>('GET', `/v1/sandboxes/${webId}`);
    host.track(web.pid);
    const ip = web.endpoints[0]!.ipv4!.split('/')[0]!;
    say(`  web is ${ip}`);
    say(`$ weft run --network demo -- node nettool.js tcp-client ${ip} 8080 hello`);
    const reply = await waitFor('web to answer', async () => {
      const r = await host.cli(['run', '--network', 'demo', '--', process.execPath, NETTOOL, 'tcp-client', ip, '8080', 'hello']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    say(`  reply: "${reply}" (the server saw the client's address)`);
    say('$ weft network ls');
    say(await host.cliOk(['network', 'ls']));
    say('$ weft sandbox ls');
    say(await host.cliOk(['sandbox', 'ls']));
    say('✔ two sandboxes talked over a weft bridge network');
    return 0;
  } catch (err) {
    process.stderr.write(`quickstart failed: ${(err as Error).message}\n${host.daemonLog}\n`);
    return 1;
  } finally {
    await host.cleanup();
    say('• cleaned up (namespace, sandboxes, state)');
  }
}

process.exitCode = await main();
