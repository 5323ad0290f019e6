/**
 * The policy module's public surface, for the controller, the REST API and the CLI (see
 * README.md for how they are meant to use it).
 */
export { SelectorSyntaxError, PolicyValidationError, type PolicyIssue } from './policy-errors.js';
export { parsePolicyText, parsePolicyValue, type PolicyDocument, CALICO_API_VERSION, ALLOW_PUBLISHED_ANNOTATION } from './policy-file.js';
export { policyToResource, profileToResource } from './policy-resource.js';
export { Selector } from './selector.js';
export { NETWORK_LABEL, comparePolicies, defaultProfile, profileOf, validateLabels, normalizeInput } from './policy-model.js';
export { compilePolicies, compiledSize, type CompiledPolicy, type NftChainSpec, type NftSetSpec } from './policy-compiler.js';
export { planTransaction, fullTransaction, diffTransaction, type PolicyTransaction, type TransactionStats } from './policy-transaction.js';
export { checkPolicyTable } from './policy-check.js';
export {
  PolicyFirewall,
  BRIDGE_HOOK_SYSCTLS,
  type PolicyFirewallOptions,
  type PolicyApplyReport,
  type PolicyCheck,
} from './policy-firewall.js';
export { evaluatePacket, type ProbePacket, type PacketVerdict, type DirectionVerdict } from './policy-evaluator.js';
export { POLICY_TABLE, POLICY_FAMILY, EGRESS_PRIORITY, INGRESS_PRIORITY } from './nft-names.js';
export type * from './policy-types.js';
