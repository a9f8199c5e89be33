import { describeModuleFormat } from '@cliffguard/testing/module-format';

describeModuleFormat('@cliffguard/clip', import.meta.url);
