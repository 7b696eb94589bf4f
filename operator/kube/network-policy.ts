/**
 * Keeps kubevmm's NetworkPolicies (operator/render/network-policy.ts) in each namespace where
 * the operator starts a launcher (or an importer or source pod: their own two), when the mode is on: applied once per namespace per
 * operator process (server-side apply, so a restarted operator converges the same objects).
 */
import { renderImageNetworkPolicies, renderLauncherNetworkPolicies, type LauncherNetworkPolicySettings, type NetworkPolicyManifest } from '../render/network-policy.js';

/** The write it needs (ClusterApi has it). */
export interface NetworkPolicyApi {
  applyNetworkPolicy(policy: NetworkPolicyManifest): Promise<unknown>;
}

/** Writes the policies of a namespace before its first launcher pod of this process. */
export class LauncherNetworkPolicies {
  private readonly done = new Set<string>();
  private readonly imagesDone = new Set<string>();

  constructor(
    private readonly api: NetworkPolicyApi,
    private readonly settings: LauncherNetworkPolicySettings,
  ) {}

  /** Applies the namespace's policies unless this process already did. */
  async ensure(namespace: string): Promise<void> {
    if (this.done.has(namespace)) return;
    for (const policy of renderLauncherNetworkPolicies(namespace, this.settings)) await this.api.applyNetworkPolicy(policy);
    this.done.add(namespace);
  }

  /** Applies the namespace's importer and source pod policies before its first such pod of this process. */
  async ensureImages(namespace: string): Promise<void> {
    if (this.imagesDone.has(namespace)) return;
    for (const policy of renderImageNetworkPolicies(namespace, this.settings)) await this.api.applyNetworkPolicy(policy);
    this.imagesDone.add(namespace);
  }
}
