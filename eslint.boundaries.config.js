// Import boundaries of weft's folders, as lint rules (also part of eslint.config.js, so
// `npm run lint` enforces them). Run alone with `npm run lint:boundaries`.
//
//   surfaces (api/)  ──►  controller (the facade)  ──►  drivers  ──►  kernel port (types)
//   daemon/ composes: the engine, the services, and the servers of api/ — nothing inside them.
//
// - api/ imports nothing from kernel/, store/ or daemon/, and no controller internals (ops,
//   context, scopes): it calls Controller's methods. Types are fine.
// - daemon/ imports from api/ only the server constructors, nothing from store/ or the
//   controller's ops, and from kernel/ only the socket credential check.
// - controller/ and drivers/ reach the kernel only through KernelPort (type imports), so the
//   fake kernel drives them in unit tests; controller/open-engine.ts composes the real one.
// - the pure core (ipam, config, model, dns records/codec, firewall builders) imports nothing
//   from kernel/ and no I/O module.
import tseslint from 'typescript-eslint';

const rule = '@typescript-eslint/no-restricted-imports';
const IO = ['node:fs', 'node:fs/*', 'node:child_process', 'node:net', 'node:dgram', 'node:http', 'node:worker_threads', 'koffi'];

const noKernel = { group: ['**/kernel/**'], message: 'the pure core imports nothing from src/kernel' };
const noIo = { group: IO, message: 'the pure core does no I/O' };
const kernelTypesOnly = {
  group: ['**/kernel/**'],
  allowTypeImports: true,
  message: 'reach the kernel through KernelPort (ctx.kernel), so the fake kernel can stand in',
};
const controllerInternals = [
  '**/controller/*-ops.js',
  '**/controller/context.js',
  '**/controller/scopes.js',
  '**/controller/reconcile.js',
  '**/controller/invariant-table.js',
  '**/controller/drift-watcher.js',
];
const apiRules = (extra = []) => [
  'error',
  {
    patterns: [
      { group: ['**/kernel/**', '**/store/**'], message: 'surfaces call Controller methods; they never touch the kernel or the store' },
      { group: ['**/daemon/**'], message: 'surfaces do not depend on the daemon' },
      {
        group: [...controllerInternals, ...extra],
        allowTypeImports: true,
        message: 'surfaces call Controller methods, not the controller internals',
      },
    ],
  },
];

export const boundaries = [
  { files: ['src/api/**/*.ts'], rules: { [rule]: apiRules(['**/controller/open-engine.js']) } },
  // The CNI fallback entry point builds its own engine when weftd is down: it is a composition root.
  { files: ['src/api/cni/cni-main.ts'], rules: { [rule]: apiRules() } },
  {
    files: ['src/daemon/**/*.ts'],
    rules: {
      [rule]: [
        'error',
        {
          patterns: [
            {
              group: ['**/api/**/*.js', '!../api/rest/rest-server.js', '!../api/cni/cni-routes.js', '!../api/docker/docker-integration.js'],
              message: 'the daemon constructs the servers of api/ and uses nothing else inside them',
            },
            { group: ['**/store/**'], message: 'the daemon reaches the store through the controller' },
            { group: controllerInternals, allowTypeImports: true, message: 'daemon services call Controller methods' },
            { group: ['**/kernel/**', '!../kernel/peer-cred.js'], message: 'daemon services reach the kernel through the controller' },
          ],
        },
      ],
    },
  },
  { files: ['src/controller/**/*.ts', 'src/drivers/**/*.ts'], rules: { [rule]: ['error', { patterns: [kernelTypesOnly] }] } },
  // The composition root: the real kernel and the store backends are chosen here.
  { files: ['src/controller/open-engine.ts'], rules: { [rule]: 'off' } },
  {
    files: [
      'src/ipam/**/*.ts',
      'src/config/**/*.ts',
      'src/model/**/*.ts',
      'src/dns/answer.ts',
      'src/dns/records.ts',
      'src/dns/resolv-conf.ts',
      'src/dns/upstreams.ts',
      'src/firewall/nft-ruleset.ts',
      'src/firewall/nft-ops.ts',
      'src/firewall/nft-check.ts',
      'src/firewall/firewall-model.ts',
      'src/firewall/port-spec.ts',
      'src/firewall/port-conflicts.ts',
      'src/firewall/host-port-allocator.ts',
      'src/firewall/validate.ts',
      'src/firewall/types.ts',
    ],
    rules: { [rule]: ['error', { patterns: [noKernel, noIo] }] },
  },
];

/** The boundaries alone (parser only, no type information: fast). */
export default tseslint.config(
  { ignores: ['dist/**', 'dist-coverage/**', 'coverage/**', 'node_modules/**'] },
  { files: ['src/**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { '@typescript-eslint': tseslint.plugin } },
  ...boundaries,
);
