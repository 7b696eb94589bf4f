/**
 * The contract between the web console's server (`kubevmm ui` on 127.0.0.1, or the chart's
 * Deployment in the cluster) and the browser app it serves. Both parse these schemas.
 *
 * The server serves the bundled app and relays the Kubernetes API; it never acts with rights of
 * its own:
 * - `GET UI_PATHS.config` answers `uiConfig`: the mode, the namespace to open on and how the
 *   user signs in.
 * - `UI_PATHS.api` + `/<api path>` (any method, watches as streamed responses, WebSocket
 *   upgrades for the `console`/`vnc` subresources) is relayed to the API server unchanged but
 *   for credentials: in `cluster` mode the browser's own `Authorization: Bearer` header (or, on a
 *   WebSocket, the `base64url.bearer.authorization.k8s.io.<token>` subprotocol) is passed on;
 *   in `local` mode the browser's bearer token must be the local session's (the `session`
 *   query parameter of the printed address, which the app keeps in the tab's sessionStorage)
 *   and is then dropped for the kubeconfig's credentials. The configuration needs the session
 *   too in local mode; the app's static files do not.
 */
import { z } from 'zod';

/** Paths the UI server answers (everything else is the app's static files). */
export const UI_PATHS = {
  config: '/config.json',
  api: '/k8s',
} as const;

/** Query parameter of the printed address carrying the local session token (the app moves it to sessionStorage and out of the address). */
export const UI_SESSION_PARAM = 'session';

/** OpenID Connect settings, when the cluster's API server trusts an identity provider. */
export const uiOidc = z.strictObject({
  issuerUrl: z.url(),
  clientId: z.string().min(1),
  /** Extra scopes beyond `openid`. */
  scopes: z.array(z.string().min(1)).default([]),
});

/** What `GET /config.json` answers. */
export const uiConfig = z.strictObject({
  /** `local`: `kubevmm ui`, kubeconfig credentials applied by the server; `cluster`: the user signs in with a bearer token. */
  mode: z.enum(['local', 'cluster']),
  /** Namespace to open on (the kubeconfig context's in local mode). */
  namespace: z.string().min(1),
  /** In local mode, the kubeconfig context's user, for display. */
  user: z.string().optional(),
  oidc: uiOidc.optional(),
  /** Version of kubevmm serving the app. */
  version: z.string(),
});

export type UiConfig = z.infer<typeof uiConfig>;
