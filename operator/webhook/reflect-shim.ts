/**
 * The three Reflect metadata functions that tsyringe (a dependency of @peculiar/x509) insists
 * on at load time. x509 only registers and resolves classes without constructor parameters,
 * so a per-target map is all it needs; this saves the reflect-metadata package. Import this
 * module before @peculiar/x509. It adds nothing when a full polyfill is already loaded.
 */

type Target = object;
type MetadataReflect = typeof Reflect & {
  getMetadata?: (key: unknown, target: Target) => unknown;
  getOwnMetadata?: (key: unknown, target: Target) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: Target) => void;
};

const store = new WeakMap<Target, Map<unknown, unknown>>();

function own(key: unknown, target: Target): unknown {
  return store.get(target)?.get(key);
}

/** Looks the key up on the target and then along its prototype chain, as reflect-metadata does. */
function inherited(key: unknown, target: Target): unknown {
  for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
    const found = store.get(t);
    if (found?.has(key)) return found.get(key);
  }
  return undefined;
}

function define(key: unknown, value: unknown, target: Target): void {
  let map = store.get(target);
  if (!map) store.set(target, (map = new Map()));
  map.set(key, value);
}

const reflect = Reflect as MetadataReflect;
if (!reflect.getMetadata) {
  Object.assign(Reflect, { getMetadata: inherited, getOwnMetadata: own, defineMetadata: define });
}
