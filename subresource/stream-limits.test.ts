import { StreamLimits } from './stream-limits.js';

const request = { namespace: 'ns', name: 'web', subresource: 'console' } as const;

describe('StreamLimits', () => {
  it('holds each user to the per-user cap and names the flag, leaving other users their streams', () => {
    const limits = new StreamLimits({ maxStreams: 10, maxStreamsPerUser: 2 });
    expect(limits.take('alice', request).ok).toBe(true);
    expect(limits.take('alice', request).ok).toBe(true);
    const refused = limits.take('alice', request);
    expect(refused).toMatchObject({ ok: false, status: { code: 503, reason: 'ServiceUnavailable', details: { name: 'web' }, message: expect.stringMatching(/you have 2 .* streams open .*--max-streams-per-user=2.*close one/) } });
    expect(limits.take('bob', request).ok).toBe(true);
    expect(limits.count()).toBe(3);
  });

  it('holds the replica to its cap, and gives a slot back once, however often it is released', () => {
    const limits = new StreamLimits({ maxStreams: 2, maxStreamsPerUser: 5 });
    const a = limits.take('alice', request);
    expect(limits.take('bob', request).ok).toBe(true);
    expect(limits.take('carol', request)).toMatchObject({ ok: false, status: { message: expect.stringMatching(/--max-streams=2/) } });
    if (!a.ok) throw new Error('expected a slot');
    a.release();
    a.release();
    expect(limits.count()).toBe(1);
    expect(limits.count('alice')).toBe(0);
    expect(limits.take('carol', request).ok).toBe(true);
    expect(limits.take('dave', request).ok).toBe(false);
  });
});
