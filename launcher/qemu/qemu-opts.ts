// QEMU's QemuOpts syntax (`head,key=value,...`) is the one place where user-controlled text
// (paths, names) meets a delimiter, so every option string is built here and nowhere else.

/** A property value: booleans become on/off, undefined leaves the property out. */
export type OptValue = string | number | boolean | undefined;

/** Properties of one option; an array repeats the key (e.g. several `hostfwd=`). */
export type OptProps = Readonly<Record<string, OptValue | readonly OptValue[]>>;

/** Doubles commas, QEMU's only escape: `a,b` would otherwise start a new property. */
export function escapeOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function formatValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return escapeOptValue(String(value));
}

/**
 * Formats `head,key=value,...`. `head` is the option's implied first value (a driver, a
 * backend type); pass '' when there is none. Keys keep their insertion order.
 */
export function qemuOpts(head: string, props: OptProps = {}): string {
  const parts = head === '' ? [] : [escapeOptValue(head)];
  for (const [key, raw] of Object.entries(props)) {
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values as readonly OptValue[]) {
      if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
    }
  }
  return parts.join(',');
}

/** `-device DRIVER,props`. */
export function device(driver: string, props: OptProps): string[] {
  return ['-device', qemuOpts(driver, props)];
}

/** `-blockdev {json}`: the JSON form needs no escaping and nests like blockdev-add. */
export function blockdev(node: object): string[] {
  return ['-blockdev', JSON.stringify(node)];
}
