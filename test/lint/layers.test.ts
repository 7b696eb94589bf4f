// The layer rule of eslint.config.js is an allow-list: each folder imports only from the
// folders it names. Probes written where a real file would sit show that it bites (bench
// never imports test code, operator/kube never imports the controller, the launcher never
// the operator) and lets the allowed imports through.
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { layers } from '../../eslint.config.js';

const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { layers }, rules: { 'layers/allowed-imports': 'error' } }],
});

async function messages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.message);
}

describe('layer rule', () => {
  it.each([
    ['bench/probe.ts', "import '../test/fakes/http-api.js';", 'bench/ may import only from', 'not test/'],
    ['operator/kube/probe.ts', "import '../controller.js';", 'operator/kube/ may import only from', 'not operator/'],
    ['operator/render/probe.ts', "import '../reconcile/types.js';", 'operator/render/', 'not operator/reconcile/'],
    ['launcher/runtime/probe.ts', "import '../../operator/render/pod.js';", 'launcher/runtime/', 'not operator/render/'],
    ['api/probe.ts', "import '../launcher/main.js';", 'api/ may import only from nothing of ours', 'not launcher/'],
    ['harness/probe.ts', "import '../test/launcher/helpers/control.js';", 'harness/', 'not test/'],
    ['operator/render/probe.ts', "export * from '../kube/client.js';", 'operator/render/', 'not operator/kube/'],
    ['subresource/auth/probe.ts', "import '../../operator/pki/certs.js';", 'subresource/auth/', 'not operator/pki/'],
  ])('%s: %s is refused', async (file, code, who, what) => {
    const [message] = await messages(file, code);
    expect(message).toContain(who);
    expect(message).toContain(what);
  });

  it.each([
    ['operator/kube/probe.ts', "import '../render/pod.js'; import '../../api/layout.js'; import './client.js';"],
    ['bench/probe.ts', "import '../harness/guest.js'; import '../launcher/main.js';"],
    ['launcher/control/probe.test.ts', "import '../../harness/pki.js'; import '../../test/launcher/helpers/control.js';"],
    ['test/probe.ts', "import '../operator/controller.js'; import '../harness/exporter.js';"],
  ])('%s: %s is allowed', async (file, code) => {
    expect(await messages(file, code)).toEqual([]);
  });
});
