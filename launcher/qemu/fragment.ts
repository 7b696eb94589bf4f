// The unit the builders hand to the composer.

/**
 * A piece of the command line from one device family. `ports` names the pcie-root-ports its
 * devices plug into; the composer creates those ports, in order, before any device.
 */
export interface Fragment {
  args: string[];
  ports?: string[];
}

/** Concatenates fragments, keeping argument and port order. */
export function mergeFragments(parts: readonly Fragment[]): Fragment {
  return { args: parts.flatMap((p) => p.args), ports: parts.flatMap((p) => p.ports ?? []) };
}
