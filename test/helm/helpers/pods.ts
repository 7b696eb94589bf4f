// The parts of rendered Deployments the chart's tests read: the pod spec and the operator's environment.
import { pick, type Manifest } from './helm.js';

export interface Probe {
  httpGet: { path: string; port: string; scheme: string };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string; items?: { key: string; path: string }[] }; hostPath?: unknown; projected?: unknown }[];
  hostNetwork?: boolean;
  hostPID?: boolean;
}

/** The pod template's spec of a Deployment. */
export const pod = (d: Manifest): PodSpec => (d.spec as { template: { spec: PodSpec } }).template.spec;

/** The operator container's environment variables with a value. */
export const operatorEnv = (objects: Manifest[]): Record<string, string> =>
  Object.fromEntries((pod(pick(objects, 'Deployment', 'kubevmm')).containers[0]?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
