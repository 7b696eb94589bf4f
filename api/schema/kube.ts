/**
 * The checks the Kubernetes API server applies to the names and values kubevmm copies into
 * pods, Services and Secrets (k8s.io/apimachinery/pkg/util/validation), and the one QEMU
 * applies to a CPU model name. A value that passes here is accepted there too, so a bad
 * one is refused at `kubectl apply`, naming the field, instead of breaking a later write.
 * Each pattern is RE2-compatible: the CRD schema carries the same ones.
 */
import { z } from 'zod';

/** DNS-1123 subdomain: object names of most kinds (PVCs, Secrets, classes, PriorityClasses). */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** DNS-1035 label: Service names, and so every VM name (it becomes `hotplug-<vm>`). */
export const DNS_1035_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

/** A label value: empty, or at most 63 alphanumerics, '-', '_' and '.', alphanumeric at both ends. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';

/** The name part of a qualified name (a label key without its prefix). */
const QUALIFIED_NAME_PART = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';

/** A label key or taint key: an optional DNS subdomain prefix and '/', then a name part. */
export const QUALIFIED_NAME_PATTERN = `^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?${QUALIFIED_NAME_PART}$`;

/**
 * IANA service name (container port names): at most 15 lower-case letters, digits and '-',
 * at least one letter, no '--', no '-' at either end.
 */
export const PORT_NAME_PATTERN = '^[a-z0-9]([a-z0-9]|-[a-z0-9])*$';

/**
 * A QEMU CPU model: letters, digits, '-', '_' and '.', as QEMU names its models
 * (`Skylake-Server-v4`, `EPYC-Rome`, `qemu64`). No ',' or '=' that would add CPU flags.
 */
export const CPU_MODEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

/**
 * An image reference as the kubelet parses it: [registry[:port]/]path[:tag][@digest], where
 * path components are lower case. Loose on purpose beyond that; it refuses whitespace, upper
 * case repositories and stray characters that would fail at pull time as InvalidImageName.
 */
export const IMAGE_PATTERN =
  '^(([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]+)?|\\[[0-9a-fA-F:]+\\](:[0-9]+)?)/)?' +
  '[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+([+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$';

/** Unicast MAC (the first octet's lowest bit clear): QEMU refuses a multicast or broadcast one. */
export const UNICAST_MAC_PATTERN = '^$|^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$';

/** QEMU's `bootindex` is an int32. */
export const MAX_BOOT_ORDER = 2 ** 31 - 1;

/** Service names are 63 characters at most, and `hotplug-` comes before the VM's name. */
export const MAX_VM_NAME = 63 - 'hotplug-'.length;

/**
 * The longest grace period: a week. Longer waits than that are not a graceful shutdown,
 * and the limit keeps every wait well inside what a timer can hold.
 */
export const MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 3600;

/** The grace period's bound, with the reason. */
export const gracePeriod = z
  .number()
  .int()
  .min(0)
  .max(MAX_GRACE_PERIOD_SECONDS, { error: `must be at most ${MAX_GRACE_PERIOD_SECONDS} (a week): longer is not a graceful shutdown` });

const re = (pattern: string) => new RegExp(pattern);

/** A DNS-1123 subdomain (at most 253 characters). */
export const dnsSubdomain = z
  .string()
  .max(253)
  .regex(re(DNS_SUBDOMAIN_PATTERN), { error: 'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit' });

/** A DNS-1123 subdomain, or empty for "none" (priorityClassName: "", className: ""). */
export const optionalSubdomain = z
  .string()
  .max(253)
  .regex(re(`^$|${DNS_SUBDOMAIN_PATTERN}`), { error: 'must be empty or a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit' });

/** A VirtualMachine's name: a DNS-1035 label short enough for every name derived from it. */
export const vmName = z
  .string()
  .max(MAX_VM_NAME, { error: `must be at most ${MAX_VM_NAME} characters: the VM's Service hotplug-<name> must fit in 63` })
  .regex(re(DNS_1035_PATTERN), { error: 'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter and ending with a letter or digit' });

/** A label value (nodeSelector values, toleration values). */
export const labelValue = z
  .string()
  .max(63)
  .regex(re(LABEL_VALUE_PATTERN), { error: 'must be a label value: at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit' });

/** A label or taint key, checked by rules (CRD schemas cannot constrain map keys). */
export const qualifiedName = z
  .string()
  .max(253 + 1 + 63)
  .regex(re(QUALIFIED_NAME_PATTERN), { error: 'must be a qualified name such as "example.com/zone" or "zone": an optional DNS subdomain and "/", then letters, digits, "-", "_" and "."' });

/** A container port name. */
export const portName = z
  .string()
  .max(15)
  .regex(re(PORT_NAME_PATTERN), { error: 'must be an IANA service name: at most 15 lower-case letters, digits and "-", no "--", starting and ending with a letter or digit' })
  .refine((name) => /[a-z]/.test(name), { error: 'must contain at least one letter (IANA service name)' });

/** A QEMU CPU model name, or host-passthrough / host-model. */
export const cpuModel = z
  .string()
  .max(64)
  .regex(re(CPU_MODEL_PATTERN), { error: 'must be a QEMU CPU model name such as host-passthrough, host-model or Skylake-Server-v4 (letters, digits, "-", "_", "."); CPU flags cannot be added here' });

/** A container image reference. */
export const imageRef = z
  .string()
  .max(512)
  .regex(re(IMAGE_PATTERN), { error: 'must be an image reference such as registry.example/os/debian:12 (lower-case repository, no spaces)' });

/** A MAC address for a NIC: unicast, or empty for a generated one. */
export const macAddress = z.string().regex(re(UNICAST_MAC_PATTERN), {
  error: 'must be a unicast MAC address such as 52:54:00:12:34:56 (first octet even; QEMU refuses multicast and broadcast ones), or empty',
});
