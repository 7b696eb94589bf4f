import { networkFailure, parseContentRange, retryAfterMs, statusFailure } from './http-errors.js';

const URL = 'https://images.example/os.qcow2';

describe('statusFailure', () => {
  it.each([
    [200, undefined],
    [206, undefined],
    [404, { reason: 'NotFound', permanent: true }],
    [410, { reason: 'NotFound', permanent: true }],
    [403, { reason: 'HttpError', permanent: true }],
    [401, { reason: 'HttpError', permanent: true }],
    [400, { reason: 'HttpError', permanent: true }],
    [416, { reason: 'HttpError', permanent: true }],
    [408, { reason: 'HttpError', permanent: false }],
    [429, { reason: 'HttpError', permanent: false }],
    [500, { reason: 'HttpError', permanent: false }],
    [503, { reason: 'HttpError', permanent: false }],
    [599, { reason: 'HttpError', permanent: false }],
  ])('%i', (status, expected) => {
    const err = statusFailure(status, URL);
    expect(err && { reason: err.reason, permanent: err.permanent }).toEqual(expected);
  });

  it('says what to do about 403', () => {
    expect(statusFailure(403, URL)?.message).toMatch(/readable without credentials/);
  });
});

describe('networkFailure', () => {
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE'])('%s is retried', (code) => {
    expect(networkFailure(coded(code), URL)).toMatchObject({ reason: 'HttpError', permanent: false });
  });

  it('a socket that ended early without a code is retried', () => {
    expect(networkFailure(new Error('aborted'), URL).permanent).toBe(false);
    expect(networkFailure(new Error('socket hang up'), URL).permanent).toBe(false);
  });

  it.each(['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT'])('TLS trust failure %s is permanent', (code) => {
    expect(networkFailure(coded(code), URL)).toMatchObject({ reason: 'HttpError', permanent: true, message: expect.stringContaining('TLS failed') });
  });

  it('anything else is a permanent ImportFailed', () => {
    expect(networkFailure(coded('EACCES'), URL)).toMatchObject({ reason: 'ImportFailed', permanent: true });
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads seconds and HTTP dates, caps at five minutes, ignores nonsense', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(retryAfterMs('86400', now)).toBe(300_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

it('parseContentRange', () => {
  expect(parseContentRange('bytes 100-199/200')).toEqual({ start: 100, total: 200 });
  expect(parseContentRange('bytes 100-199/*')).toEqual({ start: 100 });
  expect(parseContentRange('items 1-2/3')).toBeUndefined();
  expect(parseContentRange(undefined)).toBeUndefined();
});
