import { cliffguardVitestConfig } from '@cliffguard/testing/vitest';

export default cliffguardVitestConfig();
