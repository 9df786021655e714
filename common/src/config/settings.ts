import { adminSettings } from './settings-admin.js';
import { edgeSettings } from './settings-edge.js';
import { authSettings } from './settings-auth.js';
import { authChainSettings } from './settings-auth-chain.js';
import { clusterSettings } from './settings-cluster.js';
import { integrationSettings } from './settings-integration.js';
import { coreSettings } from './settings-core.js';
import { listenerSettings, mqttSettings, rateSettings } from './settings-mqtt.js';
import { sessionSettings } from './settings-session.js';
import type { ValuesOf } from './setting.js';

/** Every setting of every role, in one table (the generated reference lists exactly this). */
export const settings = {
  ...coreSettings,
  ...mqttSettings,
  ...listenerSettings,
  ...rateSettings,
  ...sessionSettings,
  ...clusterSettings,
  ...authSettings,
  ...authChainSettings,
  ...integrationSettings,
  ...adminSettings,
  ...edgeSettings,
} as const;
export type Config = ValuesOf<typeof settings>;
export type SettingKey = keyof typeof settings;
