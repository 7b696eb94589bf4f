/**
 * Which VMs' launchers did not answer: a launcher pod that runs but whose control API gave no
 * status at the VM's last reconcile (a NetworkPolicy, a wrong token, a hung launcher). Feeds
 * kubevmm_launchers_unreachable and the KubevmmLauncherUnreachable alert.
 */
export class LauncherReach {
  private readonly unreachable = new Set<string>();

  /** Records one reconcile's outcome for `key`; true when the VM just became unreachable. */
  record(key: string, reachable: boolean): boolean {
    if (reachable) {
      this.unreachable.delete(key);
      return false;
    }
    if (this.unreachable.has(key)) return false;
    this.unreachable.add(key);
    return true;
  }

  /** The VM is gone. */
  forget(key: string): void {
    this.unreachable.delete(key);
  }

  /** VMs unreachable now. */
  get count(): number {
    return this.unreachable.size;
  }
}
