/**
 * The guest-console container: a native sidecar (an init container with restartPolicy Always)
 * that prints the console log the launcher keeps, so `kubectl logs <vm>-launcher -c
 * guest-console` shows the guest's boot as any pod's log, and still shows it after the VM
 * ended. It follows the file by name (the launcher rotates it, launcher/runtime/serial.ts) with
 * the image's own `tail`: no shell, nothing from the VM spec on its command line.
 */
import type { V1Container } from '@kubernetes/client-node';
import { LAYOUT } from '../../api/layout.js';
import { containerSecurityContext } from './security.js';

/** Container name users pass to `kubectl logs -c`. */
export const GUEST_CONSOLE_CONTAINER = 'guest-console';

/** The console log inside the runtime volume. */
export const CONSOLE_LOG_FILE = `${LAYOUT.runtimeDir}/${LAYOUT.consoleLogName}`;

/**
 * `tail` uses about 1 MiB. Requests equal limits so that a dedicated VM's pod stays in the
 * Guaranteed QoS class, which every container must qualify for.
 */
export const GUEST_CONSOLE_RESOURCES = { requests: { cpu: '20m', memory: '16Mi' }, limits: { cpu: '20m', memory: '16Mi' } };

/** The sidecar for a launcher pod running `launcherImage`. */
export function guestConsoleContainer(launcherImage: string): V1Container {
  return {
    name: GUEST_CONSOLE_CONTAINER,
    image: launcherImage,
    restartPolicy: 'Always',
    // -F follows the name across rotations and waits for the file to appear; -n +1 prints it
    // from its first byte when the container restarts.
    command: ['tail', '-n', '+1', '-F', CONSOLE_LOG_FILE],
    resources: GUEST_CONSOLE_RESOURCES,
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: 'runtime', mountPath: LAYOUT.runtimeDir, readOnly: true }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}
