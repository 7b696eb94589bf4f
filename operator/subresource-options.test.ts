import { Command } from 'commander';
import { SubresourceSettingsError, subresourceSettings, withSubresourceOptions } from './subresource-options.js';

function parse(args: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, env);
    const cmd = withSubresourceOptions(new Command()).exitOverride();
    cmd.parse(args, { from: 'user' });
    return subresourceSettings(cmd.opts());
  } finally {
    process.env = saved;
  }
}

describe('subresourceSettings', () => {
  it('is off when no name is given', () => {
    expect(parse([])).toBeUndefined();
  });

  it('reads the names from the chart’s variables, with the APIService of the group by default', () => {
    const env = { KUBEVMM_SUBRESOURCES_SERVICE: 'kubevmm-subresources', KUBEVMM_SUBRESOURCES_SERVING_SECRET: 'kubevmm-subresources-serving', KUBEVMM_SUBRESOURCES_CLIENT_SECRET: 'kubevmm-subresources-client' };
    expect(parse([], env)).toEqual({ service: 'kubevmm-subresources', servingSecret: 'kubevmm-subresources-serving', clientSecret: 'kubevmm-subresources-client', apiService: 'v1alpha1.subresources.kubevmm.io' });
    expect(parse(['--subresources-apiservice', 'v1alpha1.subresources.example.com'], env)?.apiService).toBe('v1alpha1.subresources.example.com');
  });

  it('names the flags missing when only some are set', () => {
    expect(() => parse(['--subresources-service', 'svc'])).toThrow(new SubresourceSettingsError('--subresources-serving-secret, --subresources-client-secret must be set too: the subresource server needs its Service, serving Secret and client Secret (or set none of them)'));
  });

  it('refuses a name Kubernetes would refuse, naming the flag', () => {
    expect(() => parse(['--subresources-service', 'svc', '--subresources-serving-secret', 'Serving_TLS', '--subresources-client-secret', 'c'])).toThrow(/--subresources-serving-secret: "Serving_TLS" is not a Kubernetes object name/);
  });
});
