/**
 * Shapes of requests the controller accepts (from REST, CLI, CNI, Docker), validated at the
 * edge with zod; a failure becomes an InvalidArgumentError naming the field path.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';

const str = z.string();
/** Optional strings must not be empty: "" would otherwise read as "not given". */
const nonEmpty = z.string().min(1, 'must not be empty');
const strMap = z.record(z.string(), z.string());

export const PoolInput = z
  .object({
    subnet: str,
    ipRange: nonEmpty.optional(),
    gateway: nonEmpty.optional(),
    auxAddresses: strMap.optional(),
  })
  .strict();

export const NetworkCreateInput = z
  .object({
    name: str,
    driver: str.default('bridge'),
    internal: z.boolean().default(false),
    enableIPv6: z.boolean().default(false),
    attachable: z.boolean().default(true),
    labels: strMap.default({}),
    options: strMap.default({}),
    ipam: z
      .object({
        driver: str.default('default'),
        options: strMap.default({}),
        config: z.array(PoolInput).max(4).default([]),
      })
      .strict()
      .default({}),
  })
  .strict();
export type NetworkCreateInput = z.infer<typeof NetworkCreateInput>;

export const EndpointInput = z
  .object({
    network: str,
    aliases: z.array(str).max(64).default([]),
    ipv4: nonEmpty.optional(),
    ipv6: nonEmpty.optional(),
    mac: nonEmpty.optional(),
    ifname: nonEmpty.optional(),
  })
  .strict();
export type EndpointInput = z.infer<typeof EndpointInput>;

export const SandboxCreateInput = z
  .object({
    name: nonEmpty.optional(),
    /** "netns" (new namespace), "external" (netnsPath or pid), "host", "container". */
    kind: z.enum(['netns', 'external', 'host', 'container']).default('netns'),
    netnsPath: nonEmpty.optional(),
    pid: z.number().int().positive().optional(),
    containerOf: nonEmpty.optional(),
    hostname: nonEmpty.optional(),
    dns: z.array(str).max(8).default([]),
    labels: strMap.default({}),
    networks: z.array(EndpointInput).max(32).default([]),
    /** Port publications (handled by the bridge services layer). */
    publish: z.array(str).max(1024).default([]),
    publishAll: z.boolean().default(false),
    /** Ports -P publishes (Docker takes them from the image's EXPOSE; weft from --expose). */
    expose: z.array(str).max(1024).default([]),
  })
  .strict();
export type SandboxCreateInput = z.infer<typeof SandboxCreateInput>;

export const ConnectInput = EndpointInput.omit({ network: true }).extend({ sandbox: str }).strict();
export type ConnectInput = z.infer<typeof ConnectInput>;

export const DisconnectInput = z.object({ sandbox: str, force: z.boolean().default(false) }).strict();

export const SandboxPatchInput = z.object({ pid: z.number().int().positive() }).strict();
/** `weft sandbox label`: labels to set (name → value) and names to remove. */
export const SandboxLabelInput = z.object({ set: strMap.default({}), remove: z.array(str).default([]) }).strict();

/** Parse with a schema, turning the first issue into an InvalidArgumentError. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, value: unknown, root = 'body'): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data as z.infer<T>;
  const issue = r.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : root;
  throw new InvalidArgumentError(field, issue.message);
}
