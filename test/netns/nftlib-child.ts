/**
 * Runs inside a test namespace (started with nsenter by 041-policy-libnftables): applies nft
 * scripts in-process through libnftables, the way weftd does in its own namespace, and prints
 * one JSON line with what happened.
 */
import { FirewallError } from '../../src/errors.js';
import { Nft } from '../../src/kernel/nft.js';
import { PolicyFirewall } from '../../src/policy/policy-firewall.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';

const nft = new Nft({ inProcess: true });
const out: Record<string, unknown> = { inProcess: nft.inProcess };
await nft.apply(
  [
    'add table inet t041',
    'add set inet t041 members { type ipv4_addr; }',
    'add chain inet t041 filt { type filter hook forward priority 20; policy accept; }',
    'add rule inet t041 filt ip daddr @members tcp dport 7600 drop',
    'add element inet t041 members { 10.41.0.1, 10.41.0.2 }',
  ].join('\n') + '\n',
);
// One transaction: a good line before a bad one must not land either.
try {
  await nft.apply('add element inet t041 members { 10.41.0.3 }\nadd element inet t041 nosuchset { 10.41.0.4 }\n');
  out.badScript = 'applied';
} catch (err) {
  out.badScript = err instanceof FirewallError ? `FirewallError: ${err.message}` : `other: ${String(err)}`;
}
await nft.apply('delete element inet t041 members { 10.41.0.1 }\n');

// The policy layer's default in this namespace is the in-process path too.
const fw = new PolicyFirewall();
out.transport = fw.transport;
const policies = parsePolicyText(
  "name: db\nselector: role == 'db'\ningress: [{ action: Allow, protocol: TCP, destination: { ports: [5432] } }]",
).policies;
const r = await fw.apply({
  policies,
  networks: [{ name: 'n', mode: 'routed' }],
  endpoints: [{ id: 'e1', network: 'n', labels: { role: 'db' }, addresses: ['10.41.1.1'], local: true }],
});
const r2 = await fw.apply({
  policies,
  networks: [{ name: 'n', mode: 'routed' }],
  endpoints: [
    { id: 'e1', network: 'n', labels: { role: 'db' }, addresses: ['10.41.1.1'], local: true },
    { id: 'e2', network: 'n', labels: { role: 'db' }, addresses: ['10.41.1.2'], local: true },
  ],
});
out.policy = { full: r.full, second: { full: r2.full, elementsAdded: r2.stats.elementsAdded, rulesWritten: r2.stats.rulesWritten } };
out.check = await fw.check();
process.stdout.write(JSON.stringify(out) + '\n');
