export * from './task.ts';
export * from './trainable-model.ts';
export * from './layers-model.ts';
export * from './initial-weights.ts';
export * from './mnist-tasks.ts';
export * from './model-file.ts';
