/**
 * The web console's entry: reads the server's config (api/contract/ui.ts), signs the user in
 * (cluster mode) or uses the server's kubeconfig session (local mode), and renders the app.
 */
import { html } from 'htm/preact';
import { render } from 'preact';
import { uiConfig, UI_PATHS, type UiConfig } from '../../api/contract/ui.js';
import { Kube } from './kube.js';
import { finishOidc } from './oidc-flow.js';
import { adoptLocalSession, localSessionHeaders, Session } from './session.js';
import { App } from './views/app.js';
import { errorText } from './views/errors.js';
import { SignIn } from './views/signin.js';
import '@xterm/xterm/css/xterm.css';
import 'uplot/dist/uPlot.min.css';
import './styles.css';

const root = document.getElementById('app')!;

/** Who the token belongs to (SelfSubjectReview); rejects with the API's message when it is refused. */
async function whoAmI(kube: Kube): Promise<string> {
  const review = await kube.call<{ status?: { userInfo?: { username?: string } } }>(`${UI_PATHS.api.slice(1)}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
    method: 'POST',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status?.userInfo?.username ?? '(unknown user)';
}

async function show(config: UiConfig, error?: string): Promise<void> {
  const session = new Session(config);
  const kube = new Kube(session);
  if (!session.signedIn) {
    const onToken = async (token: string) => {
      session.signIn(token);
      try {
        await whoAmI(kube);
      } catch (err) {
        session.signOut();
        throw err;
      }
      await show(config);
    };
    render(html`<${SignIn} config=${config} onToken=${onToken} error=${error} />`, root);
    return;
  }
  let user = config.user ?? 'kubeconfig user';
  if (config.mode === 'cluster') {
    try {
      user = await whoAmI(kube);
    } catch (err) {
      session.signOut();
      return show(config, `your token was refused: ${errorText(err)}`);
    }
  }
  const onSignOut = config.mode === 'cluster' ? () => (session.signOut(), void show(config)) : undefined;
  render(html`<${App} kube=${kube} user=${user} defaultNamespace=${config.namespace} onSignOut=${onSignOut} />`, root);
}

async function main(): Promise<void> {
  // Preact renders next to what it did not create: the page's "loading…" goes first.
  root.replaceChildren();
  adoptLocalSession();
  const res = await fetch(UI_PATHS.config.slice(1), { headers: localSessionHeaders(), credentials: 'same-origin' });
  if (!res.ok) throw new Error(`the server answered ${res.status} for ${UI_PATHS.config}: open the address \`kubevmm ui\` printed (with its session token)`);
  const config = uiConfig.parse(await res.json());
  if (config.mode === 'cluster' && config.oidc) {
    const idToken = await finishOidc(config.oidc).catch((err: unknown) => {
      void show(config, errorText(err));
      return null;
    });
    if (idToken === null) return;
    if (idToken) new Session(config).signIn(idToken);
  }
  await show(config);
}

main().catch((err: unknown) => {
  root.textContent = '';
  const p = document.createElement('p');
  p.className = 'error';
  p.setAttribute('role', 'alert');
  p.textContent = `kubevmm console could not start: ${errorText(err)}`;
  root.append(p);
});
