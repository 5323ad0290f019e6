/**
 * Drivers by name, fixed when the engine is built: adding a driver is one folder plus one entry
 * in `builtinDrivers()`, nothing in the controller. `container` is a sandbox mode (shared
 * namespace), not a network driver.
 */
import type { Driver } from './driver.js';
import { BridgeDriver } from './bridge/bridge-driver.js';
import { HostDriver } from './host/host-driver.js';
import { NullDriver } from './null/null-driver.js';
import { MacvlanDriver } from './macvlan/macvlan-driver.js';
import { IpvlanDriver } from './ipvlan/ipvlan-driver.js';
import { OverlayDriver } from './overlay/overlay-driver.js';
import { HostSubnetDriver } from './hostsubnet/hostsubnet-driver.js';
import { RoutedDriver } from './routed/routed-driver.js';
import { MeshDriver } from './mesh/mesh-driver.js';
import { InvalidArgumentError } from '../errors.js';

/** The drivers every weft process has. */
export function builtinDrivers(): Driver[] {
  return [
    new BridgeDriver(),
    new HostDriver(),
    new NullDriver(),
    new MacvlanDriver(),
    new IpvlanDriver(),
    new OverlayDriver(),
    new HostSubnetDriver(),
    new RoutedDriver(),
    new MeshDriver(),
  ];
}

export class DriverRegistry {
  private readonly drivers = new Map<string, Driver>();
  constructor(drivers: readonly Driver[] = builtinDrivers()) {
    for (const d of drivers) {
      if (this.drivers.has(d.name)) throw new InvalidArgumentError('driver', `two drivers are named "${d.name}"`);
      this.drivers.set(d.name, d);
    }
    // Two drivers claiming one interface-name scheme would delete each other's objects as orphans.
    const claimed = new Map<string, string>();
    for (const d of drivers) {
      for (const s of d.ownedNames) {
        const other = claimed.get(s.id);
        if (other !== undefined && other !== d.name)
          throw new InvalidArgumentError('driver', `drivers "${other}" and "${d.name}" both claim interface names ${s.prefix}…`);
        claimed.set(s.id, d.name);
      }
    }
  }
  get(name: string): Driver {
    const d = this.drivers.get(name);
    if (!d) throw new InvalidArgumentError('driver', `unknown driver "${name}" (known: ${[...this.drivers.keys()].join(', ')})`);
    return d;
  }
  has(name: string): boolean {
    return this.drivers.has(name);
  }
  all(): Driver[] {
    return [...this.drivers.values()];
  }
  names(): string[] {
    return [...this.drivers.keys()];
  }
}
