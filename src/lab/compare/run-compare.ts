/**
 * `weft lab compare`: one lab (same hosts, same underlay) for every design in turn — build the
 * design's network, measure, check, tear down, next — then compare.json and the report.
 * The lab is removed at the end whatever happened.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { ClusterLab } from '../cluster-lab.js';
import { runChecks } from './checks/run-checks.js';
import type { CheckId, CompareReport, Effort, DesignResult, FailureKind, FailureResult, LabPicture } from './compare-types.js';
import type { CompareEndpoint, DesignAdapter, DesignContext, Deployment } from './design-adapter.js';
import { measureFailure } from './measure-failure.js';
import { BASE_MODE, modeKey, switchMode } from './weftd-mode.js';
import { designByName, DESIGNS, PLANNED } from './designs.js';
import { ControlPlaneCounters, measureChurn } from './measure-control-plane.js';
import { measureConvergence } from './measure-convergence.js';
import { sockperfOnce } from './measure-latency.js';
import { iperfOnce, type IperfRun } from './measure-throughput.js';
import { buildReport } from './report/build-report.js';
import { round3, statOf } from './stats.js';
import { ErrorList } from '../../errors.js';

export interface CompareOptions {
  hosts: number;
  designs: string[];
  out: string;
  /** Shorter runs and fewer samples (a few minutes in all), for tests and a first look. */
  quick: boolean;
  /** Only these checks (tests); default all. */
  checks?: CheckId[];
  /** Skip the failure measurements (tests that only look at the table). */
  noFailures?: boolean;
  /**
   * The lab's name is this prefix and a random tag (8 characters in all; namespaces are
   * wl-<name>-…): runs of different people or tests on one machine tell theirs apart. Default "cmp".
   */
  labPrefix?: string;
  onProgress?: (p: { design: string; step: string; done: number; total: number }) => void;
}

/** Steps per design, for the progress display. */
const STEPS = ['weftd mode', 'setup', 'throughput', 'latency', 'convergence', 'control plane', 'checks', 'failures', 'teardown'];

/** --quick is for tests and a first look. */
export const FULL: Effort = {
  reps: 3,
  iperfS: 2,
  sockperfS: 1,
  convergence: 6,
  restS: 3,
  churn: 3,
  storeOutageMs: 20_000,
  linkCutMs: 8_000,
};
export const QUICK: Effort = {
  reps: 1,
  iperfS: 2,
  sockperfS: 2,
  convergence: 5,
  restS: 3,
  churn: 3,
  storeOutageMs: 20_000,
  linkCutMs: 6_000,
};

/** At most 4 characters, so that at least 4 random hex digits follow in the lab's 8. */
const LAB_PREFIX_RE = /^[a-z][a-z0-9]{0,3}$/;

export function resolveDesigns(names: string[]): DesignAdapter[] {
  return names.map((n) => {
    const d = designByName(n);
    if (d) return d;
    if (PLANNED.includes(n))
      throw new InvalidArgumentError('designs', `design "${n}" has no adapter yet: it lands with its driver (available: ${knownNames()})`);
    throw new InvalidArgumentError('designs', `unknown design "${n}" (available: ${knownNames()}; planned: ${PLANNED.join(', ')})`);
  });
}
const knownNames = () => DESIGNS.map((d) => d.name).join(', ');

export async function runCompare(o: CompareOptions): Promise<CompareReport> {
  const adapters = resolveDesigns(o.designs);
  if (adapters.some((a) => !a.sameHost) && o.hosts < 2)
    throw new InvalidArgumentError('hosts', 'cross-host designs need --hosts 2 or more');
  const labPrefix = o.labPrefix ?? 'cmp';
  if (!LAB_PREFIX_RE.test(labPrefix))
    throw new InvalidArgumentError('lab-prefix', `"${labPrefix}" must be 1-4 lower-case letters or digits, starting with a letter`);
  const t0 = Date.now();
  const tag = randomBytes(4).toString('hex');
  const baseArgs = ['--firewall', 'nftables'];
  const lab = await ClusterLab.up({ hosts: o.hosts, name: `${labPrefix}${tag}`.slice(0, 8), underlay: 'l2', weftdArgs: baseArgs });
  let mode = modeKey(BASE_MODE);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'weft-cmp-'));
  const results: DesignResult[] = [];
  try {
    const total = adapters.length * STEPS.length;
    let done = 0;
    for (const [i, adapter] of adapters.entries()) {
      const progress = (step: string, advance: boolean) => {
        if (advance) done++;
        o.onProgress?.({ design: adapter.name, step, done, total });
      };
      const ctx: DesignContext = {
        lab,
        hosts: lab.state.hosts.map((h) => h.name),
        prefix: `cm${tag.slice(0, 3)}${i}`,
        log: (m) => progress(m, false),
      };
      const want = adapter.weftd;
      const switchTo = want && modeKey(want) !== mode ? want : undefined;
      if (switchTo) mode = modeKey(switchTo);
      results.push(
        await runDesign(
          adapter,
          ctx,
          o,
          scratch,
          (step) => progress(step, true),
          switchTo ? () => switchMode(lab, ctx.hosts, baseArgs, switchTo) : undefined,
        ),
      );
    }
  } finally {
    const errors = new ErrorList('compare cleanup');
    await errors.run(() => lab.down());
    await errors.run(() => rmSync(scratch, { recursive: true, force: true }));
    errors.throwIfAny();
  }
  const report: CompareReport = {
    version: 1,
    createdAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      kernel: os.release(),
      node: process.version,
      loadavg: os.loadavg().map(round3),
    },
    options: { hosts: o.hosts, designs: o.designs, quick: o.quick, effort: o.quick ? QUICK : FULL },
    lab: labPicture(lab),
    designs: results,
    totalMs: Date.now() - t0,
  };
  writeOutputs(o.out, report);
  return report;
}

function labPicture(lab: ClusterLab): LabPicture {
  const s = lab.state;
  return {
    name: s.name,
    underlay: s.options.underlay,
    subnets: [...new Set(s.hosts.map((h) => `${h.address.split('.').slice(0, 3).join('.')}.0/24`))],
    hosts: s.hosts.map((h) => ({ name: h.name, address: h.address })),
    store: s.etcd.map((e) => ({ name: e.name, address: e.ip })),
  };
}

export function writeOutputs(out: string, report: CompareReport): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'compare.json'), JSON.stringify(report, null, 2) + '\n');
  for (const [name, text] of Object.entries(buildReport(report))) {
    mkdirSync(path.dirname(path.join(out, name)), { recursive: true });
    writeFileSync(path.join(out, name), text);
  }
}

async function runDesign(
  adapter: DesignAdapter,
  ctx: DesignContext,
  o: CompareOptions,
  scratch: string,
  stepIn: (s: string) => void,
  switchWeftd?: () => Promise<number>,
): Promise<DesignResult> {
  const t0 = Date.now();
  const effort = o.quick ? QUICK : FULL;
  const stepsMs: Record<string, number> = {};
  let current: { name: string; t: number } | undefined;
  const closeStep = () => {
    if (current) stepsMs[current.name] = Date.now() - current.t;
  };
  const step = (s: string) => {
    closeStep();
    current = { name: s, t: Date.now() };
    stepIn(s);
  };
  const base = {
    design: adapter.name,
    title: adapter.title,
    model: adapter.model,
    ...(adapter.seedColumn ? { seedColumn: adapter.seedColumn } : {}),
    sameHost: adapter.sameHost,
  };
  let port = 21000;
  const nextPort = () => port++;
  let dep: Deployment | undefined;
  const counters = new ControlPlaneCounters(ctx.lab, ctx.hosts, `${ctx.prefix}cp`);
  let countersOn = false;
  const result: DesignResult = { ...base, status: 'ok', endpoints: [], checks: [], durationMs: 0 };
  try {
    step('weftd mode');
    if (switchWeftd) await switchWeftd();
    step('setup');
    dep = await adapter.setup(ctx);
    const [a, b] = dep.endpoints;
    if (!a || !b) throw new Error(`${adapter.name} set up fewer than two endpoints`);
    if (!adapter.sameHost && a.host === b.host) throw new Error(`${adapter.name} put both endpoints on ${a.host}`);
    result.endpoints = dep.endpoints.map((e) => ({
      id: e.id,
      host: e.host,
      address: e.address,
      ...(e.address6 ? { address6: e.address6 } : {}),
    }));

    // Each measurement on its own: one that breaks is reported, the others still run.
    const stepErrors: string[] = [];
    const attempt = async (name: string, f: () => Promise<void>): Promise<void> => {
      step(name);
      try {
        await f();
      } catch (err) {
        stepErrors.push(`${name}: ${(err as Error).message.split('\n')[0]!.slice(0, 300)}`);
      }
    };
    await attempt('throughput', async () => {
      const reps = effort.reps;
      const secs = effort.iperfS;
      const one: IperfRun[] = [];
      const four: IperfRun[] = [];
      for (let r = 0; r < reps; r++) {
        one.push(await iperfOnce(a, b, 1, secs, nextPort()));
        four.push(await iperfOnce(a, b, 4, secs, nextPort()));
      }
      const all = [...one, ...four];
      result.throughput = {
        oneStream: statOf(
          one.map((x) => round3(x.gbps)),
          'Gbit/s',
        ),
        fourStreams: statOf(
          four.map((x) => round3(x.gbps)),
          'Gbit/s',
        ),
      };
      result.cpu = {
        senderPerGbit: statOf(
          all.map((x) => round3(x.senderPerGbit)),
          '% core per Gbit/s',
        ),
        receiverPerGbit: statOf(
          all.map((x) => round3(x.receiverPerGbit)),
          '% core per Gbit/s',
        ),
        machinePerGbit: statOf(
          all.map((x) => round3(x.machinePerGbit)),
          '% core per Gbit/s',
        ),
      };
    });
    await attempt('latency', async () => {
      const reps = effort.reps;
      const lat: { p50: number; p99: number }[] = [];
      for (let r = 0; r < reps; r++) lat.push(await sockperfOnce(a, b, effort.sockperfS, nextPort()));
      result.latency = {
        p50: statOf(
          lat.map((x) => x.p50),
          'µs',
        ),
        p99: statOf(
          lat.map((x) => x.p99),
          'µs',
        ),
      };
    });
    await attempt('convergence', async () => {
      result.convergence = await measureConvergence(dep!, b, a.host, effort.convergence, nextPort());
    });
    await attempt('control plane', async () => {
      await counters.install(dep!.controlPorts);
      countersOn = true;
      const churn = await measureChurn(counters, dep!, a.host, effort.restS, effort.churn);
      result.controlPlane = { rest: churn.rest, churn: churn.churn };
      if (churn.memory) result.memory = churn.memory;
    });

    step('checks');
    result.checks = await runChecks(
      {
        lab: ctx.lab,
        adapter,
        dep,
        hosts: ctx.hosts,
        prefix: ctx.prefix,
        port: nextPort,
        hostSubnet: `${ctx.lab.host(a.host).address.split('.').slice(0, 3).join('.')}.0/24`,
        dir: scratch,
        log: (m) => ctx.log(m),
      },
      o.checks,
    );

    step('failures');
    if (!o.noFailures) result.failures = await runFailures(adapter, ctx, a, b, effort, nextPort);
    if (stepErrors.length) {
      result.status = 'failed';
      result.error = stepErrors.join('; ');
    }
  } catch (err) {
    result.status = 'failed';
    result.error = (err as Error).message;
  } finally {
    step('teardown');
    const errors = new ErrorList(`${adapter.name} teardown`);
    if (countersOn) await errors.run(() => counters.remove());
    if (dep) await errors.run(() => dep!.teardown());
    if (errors.errors.length) {
      result.status = 'failed';
      result.error = [result.error, (errors.combined() as Error).message].filter(Boolean).join('; ');
    }
  }
  closeStep();
  result.durationMs = Date.now() - t0;
  result.stepsMs = stepsMs;
  return result;
}

/** Which faults apply to a design: weftd restart (weft designs), store outage (designs on the store), link cut (mesh). */
export function failureKinds(adapter: DesignAdapter): FailureKind[] {
  if (!adapter.weftd || adapter.sameHost) return [];
  return [
    'weftd-restart',
    ...(adapter.weftd.store ? (['store-outage'] as const) : []),
    ...(adapter.weftd.mesh ? (['link-cut'] as const) : []),
  ];
}

async function runFailures(
  adapter: DesignAdapter,
  ctx: DesignContext,
  a: CompareEndpoint,
  b: CompareEndpoint,
  effort: Effort,
  port: () => number,
): Promise<FailureResult[]> {
  const out: FailureResult[] = [];
  for (const kind of failureKinds(adapter)) {
    ctx.log(`failure ${kind}`);
    try {
      out.push(
        await measureFailure(
          { lab: ctx.lab, a, b, port: port(), prefix: ctx.prefix, storeOutageMs: effort.storeOutageMs, linkCutMs: effort.linkCutMs },
          kind,
        ),
      );
    } catch (err) {
      // The experiment broke (not the design's traffic): report it as such, never as a figure.
      out.push({
        kind,
        fault: kind,
        faultMs: 0,
        broke: false,
        downMs: 0,
        recoveredAfterRepairMs: null,
        failed: true,
        evidence: `the experiment failed: ${(err as Error).message.slice(0, 300)}`,
      });
    }
  }
  return out;
}
