/**
 * The app's frame: header (who you are, the namespace picker, sign-out in cluster mode) and
 * the page of the current route (the location hash).
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { Kube } from '../kube.js';
import { namespacesPath, parseRoute, routeHash, type Route } from '../model/paths.js';
import { useLiveList } from './hooks.js';
import { Inventory } from './inventory.js';
import { VmPage } from './vm-page.js';
import { Wizard } from './wizard.js';

function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function NamespacePicker(props: { kube: Kube; namespace: string }) {
  const live = useLiveList<{ metadata: { name: string } }>(props.kube, namespacesPath());
  const go = (namespace: string) => namespace && (location.hash = routeHash({ page: 'inventory', namespace }));
  // A user who may not list namespaces types one (RBAC often grants one namespace only).
  if (live.error && !live.items) {
    return html`<label>Namespace <input data-testid="namespace-input" value=${props.namespace} onChange=${(e: Event) => go((e.target as HTMLInputElement).value.trim())} /></label>`;
  }
  const names = [...new Set([props.namespace, ...(live.items ?? []).map((n) => n.metadata.name)])].sort();
  return html`<label>Namespace <select data-testid="namespace-picker" value=${props.namespace} onChange=${(e: Event) => go((e.target as HTMLSelectElement).value)}>
    ${names.map((n) => html`<option key=${n} value=${n}>${n}</option>`)}</select></label>`;
}

/** The whole app once the user can call the API. */
export function App(props: { kube: Kube; user: string; defaultNamespace: string; onSignOut?: () => void }) {
  const route = useRoute();
  const namespace = route.page === 'inventory' ? (route.namespace ?? props.defaultNamespace) : route.namespace;
  const page =
    route.page === 'vm'
      ? html`<${VmPage} kube=${props.kube} namespace=${route.namespace} name=${route.name} tab=${route.tab} />`
      : route.page === 'create'
        ? html`<${Wizard} kube=${props.kube} namespace=${route.namespace} />`
        : html`<${Inventory} key=${namespace} kube=${props.kube} namespace=${namespace} />`;
  return html`<div class="app">
    <a class="skip" href="#main" onClick=${(e: Event) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <header class="top">
      <a class="brand" href=${routeHash({ page: 'inventory', namespace })}>kubevmm</a>
      <${NamespacePicker} kube=${props.kube} namespace=${namespace} />
      <span class="user" data-testid="user">${props.user}</span>
      ${props.onSignOut ? html`<button type="button" data-testid="signout" onClick=${props.onSignOut}>Sign out</button>` : null}
    </header>
    <main id="main" tabindex="-1">${page}</main>
  </div>`;
}
