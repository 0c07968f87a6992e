import { describe, expect, it } from 'vitest';
import { isProtectedStage, lambdaRuntime, regionOf } from '../../infra/stage-policy.ts';

describe('stage policy', () => {
  it('protects production stages and no others', () => {
    expect(isProtectedStage('production')).toBe(true);
    expect(isProtectedStage('prod')).toBe(true);
    expect(isProtectedStage('ci')).toBe(false);
    expect(isProtectedStage('prod-eu')).toBe(false);
    expect(isProtectedStage(undefined)).toBe(false);
  });

  it('takes the region from BERTH_REGION, then the AWS CLI’s variables, then us-east-1', () => {
    expect(regionOf({ BERTH_REGION: 'eu-west-1', AWS_REGION: 'us-west-2' })).toBe('eu-west-1');
    expect(regionOf({ AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('us-west-2');
    expect(regionOf({ AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('ap-south-1');
    expect(regionOf({})).toBe('us-east-1');
  });

  it('pins one Node.js runtime on Graviton for every function', () => {
    expect(lambdaRuntime).toEqual({ runtime: 'nodejs22.x', architecture: 'arm64' });
  });
});
