/**
 * Source pods (ADR 0019, api/contract/claim-source.ts): for a VirtualMachineImage that copies
 * a claim of another namespace, a pod in that namespace mounts the claim read-only and serves
 * its disk to the image's importer over mutual TLS (`launcher serve-source`). Rendered like
 * an importer pod: the launcher image, UID 107, no capabilities, read-only root, no service
 * account token. An owner reference cannot point across namespaces, so labels name the image
 * (namespace, name, UID): the operator finds it by them, deletes it when the import ends or
 * the image goes, and deletes any whose image no longer exists. Pure.
 */
import type { V1Pod, V1Volume } from '@kubernetes/client-node';
import { SOURCE_ANNOTATION, SOURCE_ARGS, SOURCE_LAYOUT, SOURCE_PORT, type SourceTask } from '../../api/contract/claim-source.js';
import { CREDENTIAL_KEYS } from '../../api/layout.js';
import { GENERATION_ANNOTATION } from './importer.js';
import { containerSecurityContext, podSecurityContext } from './security.js';

/** Labels naming the image a source pod serves (the operator's source pod informer selects SOURCE_UID_LABEL). */
export const SOURCE_IMAGE_LABEL = 'kubevmm.io/source-for-image';
export const SOURCE_NAMESPACE_LABEL = 'kubevmm.io/source-for-namespace';
export const SOURCE_UID_LABEL = 'kubevmm.io/source-for-uid';

/** The `app.kubernetes.io/name` of source pods (their NetworkPolicy selects it). */
export const SOURCE_APP_NAME = 'kubevmm-image-source';

/** The source pod of an image: by the image's UID, so images of one name in two namespaces never share one. */
export function sourcePodName(imageUid: string): string {
  return `kubevmm-source-${imageUid}`;
}

/** Its Secret (tls.crt/tls.key for sourceServerName, ca.crt), owned by the pod. */
export function sourceSecretName(imageUid: string): string {
  return `kubevmm-source-${imageUid}-credentials`;
}

/** Everything one source pod is made from. */
export interface SourcePodInput {
  image: { name: string; namespace: string; uid: string; generation: number };
  /** The claim to serve, in `namespace`. */
  claim: { name: string; namespace: string; mode: 'Filesystem' | 'Block' };
  launcherImage: string;
}

/** The labels naming the image. */
export function sourceLabels(image: Pick<SourcePodInput['image'], 'name' | 'namespace' | 'uid'>): Record<string, string> {
  return { [SOURCE_IMAGE_LABEL]: image.name, [SOURCE_NAMESPACE_LABEL]: image.namespace, [SOURCE_UID_LABEL]: image.uid };
}

function claimVolume(claim: SourcePodInput['claim']) {
  const volume: V1Volume = { name: 'claim', persistentVolumeClaim: { claimName: claim.name, readOnly: true } };
  if (claim.mode === 'Block') return { volume, mounts: [], devices: [{ name: 'claim', devicePath: SOURCE_LAYOUT.claimDevice }] };
  return { volume, mounts: [{ name: 'claim', mountPath: SOURCE_LAYOUT.claimDir, readOnly: true }], devices: [] };
}

/** The source pod for `input`. */
export function renderSourcePod(input: SourcePodInput): V1Pod {
  const task: SourceTask = { imageUid: input.image.uid, mode: input.claim.mode };
  const claim = claimVolume(input.claim);
  const items = [CREDENTIAL_KEYS.cert, CREDENTIAL_KEYS.key, CREDENTIAL_KEYS.clientCa].map((key) => ({ key, path: key }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: sourcePodName(input.image.uid),
      namespace: input.claim.namespace,
      labels: { ...sourceLabels(input.image), 'app.kubernetes.io/name': SOURCE_APP_NAME, 'app.kubernetes.io/managed-by': 'kubevmm' },
      annotations: { [SOURCE_ANNOTATION]: JSON.stringify(task), [GENERATION_ANNOTATION]: String(input.image.generation) },
    },
    spec: {
      // It serves until deleted; a crash restarts it in place, at the same IP the importer dials.
      restartPolicy: 'Always',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 5,
      securityContext: podSecurityContext(),
      containers: [
        {
          name: 'source',
          image: input.launcherImage,
          args: [...SOURCE_ARGS],
          ports: [{ name: 'source', containerPort: SOURCE_PORT, protocol: 'TCP' }],
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          securityContext: containerSecurityContext(),
          volumeMounts: [
            { name: 'podinfo', mountPath: SOURCE_LAYOUT.podinfoDir, readOnly: true },
            { name: 'credentials', mountPath: SOURCE_LAYOUT.credentialsDir, readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
            ...claim.mounts,
          ],
          ...(claim.devices.length ? { volumeDevices: claim.devices } : {}),
          readinessProbe: { tcpSocket: { port: SOURCE_PORT }, periodSeconds: 2, failureThreshold: 1 },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes: [
        { name: 'podinfo', downwardAPI: { items: [{ path: 'task.json', fieldRef: { fieldPath: `metadata.annotations['${SOURCE_ANNOTATION}']` } }] } },
        { name: 'credentials', secret: { secretName: sourceSecretName(input.image.uid), items, defaultMode: 0o400 } },
        { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
        claim.volume,
      ],
    },
  };
}
