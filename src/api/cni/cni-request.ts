/**
 * A CNI invocation as weft receives it: the CNI_* environment plus the network configuration
 * read from stdin, parsed and validated in the order libcni's plugins do (command → decode →
 * version → environment → configuration), so each mistake gets the spec's error code. Pure.
 */
import { z } from 'zod';
import { CNI_CODES, CniError } from './cni-errors.js';
import { LATEST_VERSION, SUPPORTED_VERSIONS, isSupported, type CniVersion } from './cni-versions.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

const strList = z.array(z.string());
const DnsConf = z
  .object({ nameservers: strList.optional(), domain: z.string().optional(), search: strList.optional(), options: strList.optional() })
  .passthrough();
export type CniDns = z.infer<typeof DnsConf>;

const RouteConf = z.object({ dst: z.string(), gw: z.string().optional() }).passthrough();
const RangeConf = z
  .object({ subnet: z.string(), gateway: z.string().optional(), rangeStart: z.string().optional(), rangeEnd: z.string().optional() })
  .passthrough();

const IpamConf = z
  .object({
    type: z.string().optional(),
    subnet: z.string().optional(),
    gateway: z.string().optional(),
    /** CIDR inside subnet that addresses are handed out from (weft's --ip-range). */
    ipRange: z.string().optional(),
    /** host-local's shape: one inner list per address family; weft uses the first of each. */
    ranges: z.array(z.array(RangeConf)).optional(),
    routes: z.array(RouteConf).optional(),
  })
  .passthrough();

const PortMapping = z
  .object({
    hostPort: z.number().int().min(0).max(65535),
    containerPort: z.number().int().min(1).max(65535),
    protocol: z.string().optional(),
    hostIP: z.string().optional(),
  })
  .passthrough();
export type CniPortMapping = z.infer<typeof PortMapping>;

const RuntimeConf = z
  .object({
    portMappings: z.array(PortMapping).optional(),
    ips: strList.optional(),
    mac: z.string().optional(),
    dns: DnsConf.optional(),
    /** podman's capability: network name → aliases. */
    aliases: z.record(z.string(), strList).optional(),
  })
  .passthrough();

const Attachment = z.object({ containerID: z.string(), ifname: z.string() }).passthrough();

/** The fields weft reads; everything else a runtime adds is accepted and ignored. */
export const NetConf = z
  .object({
    cniVersion: z.string(),
    name: z.string(),
    type: z.string(),
    bridge: z.string().optional(),
    mtu: z.number().int().optional(),
    ipMasq: z.boolean().optional(),
    isGateway: z.boolean().optional(),
    isDefaultGateway: z.boolean().optional(),
    /** No default route and no traffic beyond the network (weft's --internal). */
    internal: z.boolean().optional(),
    /** Inter-container communication on the bridge (Docker's enable_icc). */
    icc: z.boolean().optional(),
    /** weft driver of a network first seen through CNI: "bridge" (default), "macvlan", "ipvlan" or "hostsubnet" (ipam.subnet = the cluster network). */
    driver: z.string().optional(),
    /** macvlan/ipvlan parent interface (the reference macvlan plugin's name for it). */
    master: z.string().optional(),
    /** macvlan mode (bridge, private, vepa, passthru) or ipvlan mode (l2, l3, l3s). */
    mode: z.string().optional(),
    /** Further weft driver options (`-o`), e.g. {"weft.macvlan.probe": "true"}. */
    options: z.record(z.string(), z.string()).optional(),
    ipam: IpamConf.optional(),
    dns: DnsConf.optional(),
    runtimeConfig: RuntimeConf.optional(),
    args: z
      .object({ cni: z.object({ ips: strList.optional(), mac: z.string().optional() }).passthrough().optional() })
      .passthrough()
      .optional(),
    prevResult: z.record(z.string(), z.unknown()).optional(),
    'cni.dev/valid-attachments': z.array(Attachment).optional(),
    // No weftSocket / weftRepo / weftStateDir…: where weft is comes from `weft cni install`
    // (or the plugin's environment), never from a configuration pod authors can write into.
  })
  .passthrough();
export type NetConf = z.infer<typeof NetConf> & { cniVersion: CniVersion };

export interface CniRequest {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs. */
  args: Record<string, string>;
  conf: NetConf;
}

/** The cniVersion to print in an error: the request's when usable, else the latest. */
export function errorVersionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return isSupported(v) ? v : LATEST_VERSION;
  } catch {
    return LATEST_VERSION;
  }
}

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The spec's interface-name rule: 1–15 bytes, not "." or "..", no "/", ":" or whitespace. */
export function checkIfname(name: string): void {
  if (name === '' || name === '.' || name === '..' || Buffer.byteLength(name) > 15 || /[/:\s]/.test(name)) {
    throw new CniError(
      CNI_CODES.invalidEnv,
      'invalid CNI_IFNAME',
      `interface name ${JSON.stringify(name)} must be 1-15 bytes without "/", ":" or whitespace, and not "." or ".."`,
    );
  }
}

export function parseCniArgs(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const pair of s.split(';')) {
    if (pair === '') continue;
    const i = pair.indexOf('=');
    if (i <= 0)
      throw new CniError(
        CNI_CODES.invalidEnv,
        'invalid CNI_ARGS',
        `expected KEY=VALUE pairs separated by ";", got ${JSON.stringify(pair)}`,
      );
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

function missing(env: Record<string, string | undefined>, names: string[]): void {
  const gone = names.filter((n) => !env[n]);
  if (gone.length > 0) throw new CniError(CNI_CODES.invalidEnv, `required env variables [${gone.join(',')}] missing`);
}

/** Parse an invocation for any verb except VERSION (which needs no configuration). */
export function parseRequest(env: Record<string, string | undefined>, stdin: string): CniRequest {
  missing(env, ['CNI_COMMAND']);
  const command = env.CNI_COMMAND as CniCommand;
  if (!(CNI_COMMANDS as readonly string[]).includes(command))
    throw new CniError(CNI_CODES.invalidEnv, `unknown CNI_COMMAND ${JSON.stringify(command)}`, `known: ${CNI_COMMANDS.join(', ')}`);
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_CODES.decodeFailure, 'failed to decode network configuration', (err as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CniError(CNI_CODES.decodeFailure, 'failed to decode network configuration', 'expected a JSON object');
  const version = (raw as { cniVersion?: unknown }).cniVersion;
  if (!isSupported(version)) {
    throw new CniError(
      CNI_CODES.incompatibleVersion,
      'incompatible CNI versions',
      `config is ${JSON.stringify(version ?? '0.1.0')}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  }
  const needs: Record<CniCommand, string[]> = {
    ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
    CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
    DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
    GC: ['CNI_PATH'],
    STATUS: ['CNI_PATH'],
    VERSION: [],
  };
  missing(env, needs[command]);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !CONTAINER_ID_RE.test(containerId))
    throw new CniError(
      CNI_CODES.invalidEnv,
      'invalid CNI_CONTAINERID',
      `${JSON.stringify(containerId)} must start with an alphanumeric character, then [a-zA-Z0-9_.-]`,
    );
  const ifname = env.CNI_IFNAME ?? '';
  if (needs[command].includes('CNI_IFNAME')) checkIfname(ifname);
  const args = parseCniArgs(env.CNI_ARGS);
  const parsed = NetConf.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CniError(CNI_CODES.invalidConfig, 'invalid network configuration', `${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  const conf = parsed.data as NetConf;
  if (!NETWORK_NAME_RE.test(conf.name) || conf.name.length > 64)
    throw new CniError(
      CNI_CODES.invalidConfig,
      'invalid network name',
      `${JSON.stringify(conf.name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-], at most 64 characters`,
    );
  return { command, containerId, netns: env.CNI_NETNS ?? '', ifname, args, conf };
}
