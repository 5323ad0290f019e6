/**
 * weft's multi-host designs, each driven through weftd on every lab host (weftd-network.ts).
 * `claims` are what each design's README says (and what the seed says of the system it stands
 * for); the report only compares them with the checks' findings.
 */
import type { CheckId, Outcome } from '../compare-types.js';
import { weftdDesign, type WeftdDesignSpec } from './weftd-network.js';

const STORE = { store: true } as const;
const NONE = { tcp: [], udp: [] };

type Base = Omit<WeftdDesignSpec, 'name' | 'title' | 'options'>;
const claims = (c: Partial<Record<CheckId, Outcome>>) => c;

const overlayBase: Base = {
  model: 'VXLAN overlay, peers programmed from the store (Docker overlay)',
  seedColumn: 'Docker Overlay Network',
  claims: claims({ store: 'yes', names: 'yes', partial: 'no', vnic: 'no', isolation: 'yes', overlap: 'yes' }),
  weftd: STORE,
  driver: 'overlay',
  subnet: '10.233.0.0/24',
  tenants: true,
  scope: 'global',
  controlPorts: NONE,
};

const hostsubnet = (backend: 'vxlan' | 'host-gw' | 'udp', title: string): WeftdDesignSpec => ({
  name: `hostsubnet:${backend}`,
  title,
  model: `one subnet per host from the store, ${backend === 'vxlan' ? 'VXLAN' : backend === 'udp' ? 'UDP encapsulation in userspace' : 'plain routes via the underlay'} (Flannel)`,
  seedColumn: 'Flannel',
  claims: claims({ store: 'yes', partial: 'no', vnic: 'no', encryption: 'no' }),
  weftd: STORE,
  driver: 'hostsubnet',
  options: [`backend=${backend}`],
  // Flannel's shape: a /16 split into per-host /24 leases.
  subnet: '10.236.0.0/16',
  tenants: true,
  scope: 'local',
  // A second network needs its own VXLAN VNI / UDP port (each is one device per host).
  ...(backend === 'vxlan' ? { tenantOptions: (i: number) => [`vni=${100 + i}`] } : {}),
  ...(backend === 'udp' ? { tenantOptions: (i: number) => [`port=${8285 + i}`] } : {}),
  controlPorts: NONE,
});

export const WEFT_DESIGNS = [
  weftdDesign({ ...overlayBase, name: 'overlay', title: 'weft overlay (VXLAN)', options: [] }),
  weftdDesign({
    ...overlayBase,
    name: 'overlay:encrypted',
    title: 'weft overlay, encrypted (-o encrypted)',
    claims: { ...overlayBase.claims, encryption: 'yes' },
    options: ['encrypted=true'],
  }),
  weftdDesign(hostsubnet('vxlan', 'weft hostsubnet, vxlan backend')),
  weftdDesign(hostsubnet('host-gw', 'weft hostsubnet, host-gw backend')),
  weftdDesign(hostsubnet('udp', 'weft hostsubnet, udp backend')),
  weftdDesign({
    name: 'macvlan',
    title: 'weft macvlan on the underlay NIC',
    model: "macvlan children of each host's NIC: sandboxes are on the LAN itself (no overlay)",
    claims: claims({ store: 'no', encryption: 'no', vnic: 'no' }),
    weftd: STORE,
    driver: 'macvlan',
    options: ['parent=eth0', 'macvlan_mode=bridge'],
    // A second IP subnet on the lab's one L2 segment; local networks, so each host's
    // sandboxes get addresses from their own slice (no shared IPAM across hosts).
    subnet: '10.234.0.0/24',
    tenants: true,
    scope: 'local',
    // Host i's k-th endpoint (k < 70) at .10 + 80·i + k: slices of one /24 that never meet.
    fixedIp: (hostIndex, k, subnet) => `${subnet.split('.').slice(0, 3).join('.')}.${10 + hostIndex * 80 + (k % 70)}`,
    controlPorts: NONE,
  }),
  weftdDesign({
    name: 'routed-bgp',
    title: 'weft routed + BGP (BIRD)',
    model: 'pure layer 3: /32 routes per workload, host blocks announced over BGP (Calico)',
    seedColumn: 'Calico',
    claims: claims({ store: 'yes', encryption: 'no', partial: 'no', vnic: 'no', overlap: 'no' }),
    weftd: { store: true, bgp: true },
    driver: 'routed',
    options: [],
    subnet: '10.237.0.0/16',
    tenants: true,
    scope: 'global',
    controlPorts: { tcp: [179], udp: [] },
  }),
  meshDesign(false),
  meshDesign(true),
];

/** weft's store-less mesh, plain or with a password (every packet then on the encrypted sleeve). */
function meshDesign(encrypted: boolean): ReturnType<typeof weftdDesign> {
  return weftdDesign({
    name: encrypted ? 'mesh:encrypted' : 'mesh',
    title: encrypted ? 'weft mesh with a password (encrypted sleeve)' : 'weft mesh (store-less, gossip)',
    model: encrypted
      ? 'store-less mesh, every packet on the encrypted sleeve (Weave with a password)'
      : 'store-less mesh of weftd peers: VXLAN fast path or a UDP sleeve, relayed when partial (Weave)',
    seedColumn: 'Weave',
    claims: claims({ store: 'no', names: 'yes', partial: 'yes', encryption: encrypted ? 'yes' : 'no' }),
    partialSettleMs: 6000,
    weftd: { store: false, mesh: encrypted ? 'encrypted' : 'plain' },
    driver: 'mesh',
    options: [],
    subnet: '10.32.0.0/12',
    tenants: false,
    // Mesh peers gossip network definitions: made on one host, it appears on the others.
    scope: 'global',
    controlPorts: { tcp: [6783], udp: [] },
  });
}
