import { describeModuleFormat } from '@cliffguard/testing/module-format';

describeModuleFormat('@cliffguard/rnn', import.meta.url);
