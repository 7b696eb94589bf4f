/**
 * The optional NetworkPolicies for VM namespaces (chart value launcherNetworkPolicy, off by
 * default; docs/security.md): launcher pods take their control port only from the operator
 * and the peers the platform names (the metrics scraper, the subresource server), and every
 * other port (the guest's) from `guestFrom` or anyone; attachment pods take NBD only from
 * launcher pods of their namespace. Pure.
 */
import type { V1LabelSelector, V1NetworkPolicyPort } from '@kubernetes/client-node';
import { z } from 'zod';
import { describeIssues } from '../../api/contract/control.js';
import { SOURCE_PORT } from '../../api/contract/claim-source.js';
import { IMPORTER_PORT } from '../../api/contract/importer.js';
import { CONTROL_PORT, NBD_EXPORT } from '../../api/layout.js';
import { IMPORTER_APP_NAME } from './importer.js';
import { SOURCE_APP_NAME } from './source-pod.js';

/** A NetworkPolicyPeer as the chart writes it; Kubernetes checks the rest. */
const peer = z.looseObject({
  podSelector: z.record(z.string(), z.unknown()).optional(),
  namespaceSelector: z.record(z.string(), z.unknown()).optional(),
  ipBlock: z.record(z.string(), z.unknown()).optional(),
});

/** The operator setting (KUBEVMM_LAUNCHER_NETWORK_POLICY, JSON). */
export const launcherNetworkPolicySettings = z.strictObject({
  /** Who may reach the control port (9500): the operator itself, the scraper, the subresource server. */
  controlFrom: z.array(peer).min(1, 'name at least the operator pods, or nothing reaches the launchers'),
  /** Who may reach the guests' ports; empty: anyone, as without a policy. */
  guestFrom: z.array(peer).default([]),
  /** Who may reach importer pods' API (9501): the operator (progress) and the subresource server (uploads). Default: controlFrom. */
  importerFrom: z.array(peer).min(1, 'name at least the operator pods, or no import is seen').optional(),
});

export type LauncherNetworkPolicySettings = z.infer<typeof launcherNetworkPolicySettings>;

type Peer = z.infer<typeof peer>;

/**
 * A NetworkPolicy as sent (server-side apply sends the object as it is). Not client-node's
 * V1NetworkPolicy: that spells the rule's `from` as `_from`, which only its own serializer
 * renames, and an apply body does not go through it.
 */
export interface NetworkPolicyManifest {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    podSelector: V1LabelSelector;
    policyTypes: ['Ingress'];
    ingress: { from?: Peer[]; ports: V1NetworkPolicyPort[] }[];
  };
}

/** Names of the two policies kubevmm keeps in each namespace with VMs. */
export const NETWORK_POLICY_NAMES = { launchers: 'kubevmm-launchers', attachments: 'kubevmm-attachments', importers: 'kubevmm-importers', sources: 'kubevmm-image-sources' } as const;

const MANAGED = { 'app.kubernetes.io/managed-by': 'kubevmm' };

/**
 * Every port but the control port, TCP and UDP: NetworkPolicies only add what they allow, so
 * "all but 9500" is written as the ranges around it.
 */
function guestPorts(): V1NetworkPolicyPort[] {
  return [
    { protocol: 'TCP', port: 1, endPort: CONTROL_PORT - 1 },
    { protocol: 'TCP', port: CONTROL_PORT + 1, endPort: 65535 },
    { protocol: 'UDP', port: 1, endPort: 65535 },
  ];
}

/** The two policies for `namespace`. */
export function renderLauncherNetworkPolicies(namespace: string, settings: LauncherNetworkPolicySettings): NetworkPolicyManifest[] {
  const meta = (name: string) => ({ name, namespace, labels: MANAGED });
  const guestRule = { ports: guestPorts(), ...(settings.guestFrom.length ? { from: settings.guestFrom } : {}) };
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(NETWORK_POLICY_NAMES.launchers),
      spec: {
        podSelector: { matchLabels: { ...MANAGED, 'app.kubernetes.io/name': 'kubevmm-launcher' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: settings.controlFrom, ports: [{ protocol: 'TCP', port: CONTROL_PORT }] }, guestRule],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(NETWORK_POLICY_NAMES.attachments),
      spec: {
        podSelector: { matchLabels: { ...MANAGED, 'app.kubernetes.io/name': 'kubevmm-attachment' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { ...MANAGED, 'app.kubernetes.io/name': 'kubevmm-launcher' } } }], ports: [{ protocol: 'TCP', port: NBD_EXPORT.port }] }],
      },
    },
  ];
}

/**
 * The two policies for image pods in `namespace` (written where an importer or a source pod
 * starts): importer pods take their API port only from `importerFrom` (the operator, the
 * subresource server); source pods (ADR 0019) take theirs only from importer pods, of any
 * namespace, since the importer of a cross-namespace copy runs in the image's. No other port.
 */
export function renderImageNetworkPolicies(namespace: string, settings: LauncherNetworkPolicySettings): NetworkPolicyManifest[] {
  const meta = (name: string) => ({ name, namespace, labels: MANAGED });
  const app = (name: string) => ({ matchLabels: { ...MANAGED, 'app.kubernetes.io/name': name } });
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(NETWORK_POLICY_NAMES.importers),
      spec: { podSelector: app(IMPORTER_APP_NAME), policyTypes: ['Ingress'], ingress: [{ from: settings.importerFrom ?? settings.controlFrom, ports: [{ protocol: 'TCP', port: IMPORTER_PORT }] }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(NETWORK_POLICY_NAMES.sources),
      spec: { podSelector: app(SOURCE_APP_NAME), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: {}, podSelector: app(IMPORTER_APP_NAME) }], ports: [{ protocol: 'TCP', port: SOURCE_PORT }] }] },
    },
  ];
}

/** The setting from its JSON text (flag or environment); throws naming the field and the fix. */
export function parseLauncherNetworkPolicy(text: string): LauncherNetworkPolicySettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`--launcher-network-policy (KUBEVMM_LAUNCHER_NETWORK_POLICY) is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = launcherNetworkPolicySettings.safeParse(raw);
  if (parsed.success) return parsed.data;
  const detail = describeIssues(parsed.error, 'value');
  throw new Error(`--launcher-network-policy (KUBEVMM_LAUNCHER_NETWORK_POLICY): ${detail}; expected {"controlFrom": [peers], "guestFrom": [peers]}`);
}
