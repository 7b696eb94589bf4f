import { CONTROL_CLIENTS, controlClientMay } from './control.js';

describe('controlClientMay', () => {
  it('lets the operator call everything', () => {
    for (const [method, path] of [['POST', '/shutdown'], ['POST', '/disks'], ['GET', '/console'], ['DELETE', '/disks/x']]) expect(controlClientMay(CONTROL_CLIENTS.operator, method!, path!)).toBe(true);
  });

  it('lets the subresource server open streams and read the metrics report, nothing else', () => {
    for (const path of ['/console', '/vnc', '/portforward', '/vm-metrics']) expect(controlClientMay(CONTROL_CLIENTS.subresources, 'GET', path)).toBe(true);
    for (const [method, path] of [['POST', '/shutdown'], ['POST', '/reset'], ['POST', '/pause'], ['POST', '/resume'], ['GET', '/status'], ['POST', '/disks'], ['POST', '/console'], ['GET', '/console/x']]) {
      expect(controlClientMay(CONTROL_CLIENTS.subresources, method!, path!)).toBe(false);
    }
  });

  it('gives an unknown client, or a name from the prototype, nothing', () => {
    expect(controlClientMay('someone', 'GET', '/vm-metrics')).toBe(false);
    expect(controlClientMay('constructor', 'GET', '/status')).toBe(false);
    expect(controlClientMay('__proto__', 'GET', '/status')).toBe(false);
  });
});
