/**
 * The guest-console container: a native sidecar (an init container with restartPolicy Always)
 * that prints the console log the launcher keeps, so `kubectl logs <vm>-launcher -c
 * guest-console` shows the guest's boot as any pod's log, and still shows it after the VM
 * ended. It follows the file by name (the launcher rotates it, launcher/runtime/serial.ts) with
 * the image's own `tail`. Nothing from the VM spec reaches its command line.
 */
import type { V1Container, V1ResourceRequirements } from '@kubernetes/client-node';
import { LAYOUT } from '../../api/layout.js';
import { containerSecurityContext } from './security.js';

/** Container name users pass to `kubectl logs -c`. */
export const GUEST_CONSOLE_CONTAINER = 'guest-console';

/** The console log inside the runtime volume. */
export const CONSOLE_LOG_FILE = `${LAYOUT.runtimeDir}/${LAYOUT.consoleLogName}`;

/**
 * `tail` uses about 1 MiB. No CPU limit: a CFS quota of a few millicores throttles the
 * container's own start (runc's init and the shell's loading run in its cgroup), which took
 * 0.7 s at 20m on the real node, and the launcher container starts only after this sidecar has.
 * A dedicated VM's pod must stay Guaranteed, where every container's requests equal its limits:
 * there it gets 100m, enough to start in about 0.1 s.
 */
export function guestConsoleResources(dedicated: boolean): V1ResourceRequirements {
  if (dedicated) return { requests: { cpu: '100m', memory: '16Mi' }, limits: { cpu: '100m', memory: '16Mi' } };
  return { requests: { cpu: '20m', memory: '16Mi' }, limits: { memory: '16Mi' } };
}

/**
 * `tail -F` follows the name across rotations and waits for the file to appear (its notes
 * about that go to /dev/null, not into the console log); it checks every 0.1 s (`-s`): a file
 * that appears after tail started is polled, at its default of once a second, which delayed
 * the guest's first line in `kubectl logs` by up to a second (bench/real-node.ts); `-n +1`
 * prints the file from its first byte when the container restarts. The shell is there for one reason: as PID 1 of its container
 * `tail` would ignore SIGTERM, and every pod deletion would wait out the grace period; the
 * trap ends the container at once. The file name arrives as $0, not inside the script.
 */
export const CONSOLE_SCRIPT = 'trap "exit 0" TERM; tail -n +1 -F -s 0.1 -- "$0" 2>/dev/null & wait';

/** The sidecar for a launcher pod running `launcherImage`. */
export function guestConsoleContainer(launcherImage: string, dedicated = false): V1Container {
  return {
    name: GUEST_CONSOLE_CONTAINER,
    image: launcherImage,
    restartPolicy: 'Always',
    command: ['/bin/sh', '-c', CONSOLE_SCRIPT, CONSOLE_LOG_FILE],
    resources: guestConsoleResources(dedicated),
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: 'runtime', mountPath: LAYOUT.runtimeDir, readOnly: true }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}
