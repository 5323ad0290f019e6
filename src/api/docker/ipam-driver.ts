/**
 * Docker's IPAM driver protocol, translated: each request body is checked and handed to the
 * controller's pools (controller/pool-ops.ts); replies are shaped as Docker reads them.
 */
import type { Controller } from '../../controller/controller.js';
import { normalizeAddress } from '../../ipam/address.js';

export const LOCAL_ADDRESS_SPACE = 'weft-local';
export const GLOBAL_ADDRESS_SPACE = 'weft-global';
/** Docker's option marking a RequestAddress as the network's gateway. */
const GATEWAY_REQUEST = 'com.docker.network.gateway';

type Body = Record<string, unknown>;
const str = (b: Body, k: string): string => (typeof b[k] === 'string' ? b[k] : '');

export class DockerIpam {
  constructor(private readonly controller: Controller) {}

  capabilities(): Body {
    // Our state persists, so Docker need not replay pool/address requests after it restarts.
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  defaultAddressSpaces(): Body {
    return { LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE, GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE };
  }

  async requestPool(b: Body): Promise<Body> {
    const pool = str(b, 'Pool');
    const subPool = str(b, 'SubPool');
    const p = await this.controller.runtime.requestPool({
      addressSpace: str(b, 'AddressSpace') || LOCAL_ADDRESS_SPACE,
      v6: b.V6 === true,
      ...(pool ? { pool } : {}),
      ...(subPool ? { subPool } : {}),
    });
    return { PoolID: p.id, Pool: p.pool, Data: {} };
  }

  async releasePool(b: Body): Promise<Body> {
    await this.controller.runtime.releasePool(str(b, 'PoolID'));
    return {};
  }

  async requestAddress(b: Body): Promise<Body> {
    const opts = (b.Options && typeof b.Options === 'object' ? b.Options : {}) as Record<string, unknown>;
    const asked = str(b, 'Address') ? normalizeAddress(str(b, 'Address'), 'Address') : undefined;
    const address = await this.controller.runtime.requestAddress({
      poolId: str(b, 'PoolID'),
      gateway: opts.RequestAddressType === GATEWAY_REQUEST,
      ...(asked ? { address: asked } : {}),
    });
    return { Address: address, Data: {} };
  }

  async releaseAddress(b: Body): Promise<Body> {
    await this.controller.runtime.releaseAddress(str(b, 'PoolID'), normalizeAddress(str(b, 'Address').split('/')[0]!, 'Address'));
    return {};
  }
}
