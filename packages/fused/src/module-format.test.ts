import { describeModuleFormat } from '@cliffguard/testing/module-format';

describeModuleFormat('@cliffguard/fused', import.meta.url);
