/** The launcher runs unprivileged: non-root UID 107, no capabilities, RuntimeDefault seccomp. */
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import { LAUNCHER_UID } from '../../api/layout.js';

export { LAUNCHER_UID } from '../../api/layout.js';

/** Pod-level security context. */
export function podSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: LAUNCHER_UID,
    runAsGroup: LAUNCHER_UID,
    fsGroup: LAUNCHER_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level security context, the same for the launcher and its init containers. */
export function containerSecurityContext(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
}
