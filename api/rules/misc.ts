/** Rules on interfaces and the remaining top-level fields. */
import { CONTROL_PORT } from '../layout.js';
import type { Finding, Rule } from './context.js';

export const uniqueInterfaces: Rule = ({ spec }) => {
  const seen = new Map<string, number>();
  return (spec.interfaces ?? []).flatMap((iface, i): Finding[] => {
    const first = seen.get(iface.name);
    seen.set(iface.name, first ?? i);
    if (first === undefined) return [];
    return [{ path: `spec.interfaces[${i}].name`, message: `duplicate interface name "${iface.name}", already used by spec.interfaces[${first}]; use a unique name` }];
  });
};

export const uniquePorts: Rule = ({ spec }) =>
  (spec.interfaces ?? []).flatMap((iface, i) => {
    const seen = new Set<string>();
    return (iface.ports ?? []).flatMap((p, j): Finding[] => {
      const key = `${p.protocol ?? 'TCP'}/${p.port}`;
      if (!seen.has(key)) {
        seen.add(key);
        return [];
      }
      return [{ path: `spec.interfaces[${i}].ports[${j}]`, message: `port ${key} is listed twice; list each port once` }];
    });
  });

/**
 * Guest ports are forwarded from the same port of the pod, where the launcher's control API
 * (and its /metrics) listens on CONTROL_PORT: the forward could never be set up.
 */
export const reservedPorts: Rule = ({ spec }) =>
  (spec.interfaces ?? []).flatMap((iface, i) =>
    (iface.ports ?? []).flatMap((p, j): Finding[] =>
      p.port === CONTROL_PORT && (p.protocol ?? 'TCP') === 'TCP'
        ? [{ path: `spec.interfaces[${i}].ports[${j}].port`, message: `TCP port ${CONTROL_PORT} is the launcher's control and metrics port; use another port` }]
        : [],
    ),
  );

/** Container port names are unique in a pod, and the launcher's own port is named `control`. */
export const uniquePortNames: Rule = ({ spec }) => {
  const seen = new Map<string, string>([['control', "the launcher's control port"]]);
  return (spec.interfaces ?? []).flatMap((iface, i) =>
    (iface.ports ?? []).flatMap((p, j): Finding[] => {
      if (!p.name) return [];
      const path = `spec.interfaces[${i}].ports[${j}].name`;
      const first = seen.get(p.name);
      if (first === undefined) {
        seen.set(p.name, path);
        return [];
      }
      return [{ path, message: `port name "${p.name}" is already used by ${first}; port names must be unique in the pod` }];
    }),
  );
};

/** 00:00:00:00:00:00 is no address: QEMU refuses it. */
export const zeroMac: Rule = ({ spec }) =>
  (spec.interfaces ?? []).flatMap((iface, i) =>
    iface.macAddress && /^(00:){5}00$/.test(iface.macAddress)
      ? [{ path: `spec.interfaces[${i}].macAddress`, message: 'must not be all zeros; leave it empty for a generated address' }]
      : [],
  );

export const singleMasquerade: Rule = ({ spec }) => {
  const masq = (spec.interfaces ?? []).flatMap((iface, i) => ((iface.binding ?? 'masquerade') === 'masquerade' ? [i] : []));
  return masq.slice(1).map((i) => ({
    path: `spec.interfaces[${i}].binding`,
    message: `only one interface can use the pod network (masquerade); spec.interfaces[${masq[0]}] does already`,
  }));
};

/** A bridge needs a tap device and NET_ADMIN, which the unprivileged launcher does not have. */
export const bridgeUnsupported: Rule = ({ spec }) =>
  (spec.interfaces ?? []).flatMap((iface, i) =>
    iface.binding === 'bridge'
      ? [{ path: `spec.interfaces[${i}].binding`, message: 'bridge is not supported yet: it needs NET_ADMIN, which launcher pods do not get; use masquerade' }]
      : [],
  );

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export const restartTimestamp: Rule = ({ spec }) => {
  const at = spec.restartRequestedAt;
  if (!at || (RFC3339.test(at) && !Number.isNaN(Date.parse(at)))) return [];
  return [{ path: 'spec.restartRequestedAt', message: `must be an RFC 3339 time such as 2026-11-26T10:00:00Z, or empty; got "${at}"` }];
};

/** Every rule on interfaces and other fields. */
export const miscRules: Rule[] = [uniqueInterfaces, uniquePorts, reservedPorts, uniquePortNames, zeroMac, singleMasquerade, bridgeUnsupported, restartTimestamp];
