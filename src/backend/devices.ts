/** `trainer.device` / `--device`: the one list of backend names (the config's schema reads it). */
export const deviceNames = ['cpu', 'webgpu', 'reference'] as const;
export type DeviceName = (typeof deviceNames)[number];
