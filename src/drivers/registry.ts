/** Drivers by name. `container` is a sandbox mode (shared namespace), not a network driver. */
import type { Driver } from './driver.js';
import { BridgeDriver } from './bridge/bridge-driver.js';
import { HostDriver } from './host/host-driver.js';
import { NullDriver } from './null/null-driver.js';
import { MacvlanDriver } from './macvlan/macvlan-driver.js';
import { IpvlanDriver } from './ipvlan/ipvlan-driver.js';
import { InvalidArgumentError } from '../errors.js';

export class DriverRegistry {
  private readonly drivers = new Map<string, Driver>();
  constructor(drivers: Driver[] = [new BridgeDriver(), new HostDriver(), new NullDriver(), new MacvlanDriver(), new IpvlanDriver()]) {
    for (const d of drivers) this.drivers.set(d.name, d);
  }
  register(d: Driver): void {
    this.drivers.set(d.name, d);
  }
  get(name: string): Driver {
    const d = this.drivers.get(name);
    if (!d) throw new InvalidArgumentError('driver', `unknown driver "${name}" (known: ${[...this.drivers.keys()].join(', ')})`);
    return d;
  }
  names(): string[] {
    return [...this.drivers.keys()];
  }
}
