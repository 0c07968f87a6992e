import {
  deleteParameter,
  deleteParameters,
  describeParameters,
  getParameterAction,
  getParameters,
  getParametersByPath,
  putParameter,
} from '../local-aws/parameter-store.ts';
import type { Action } from './action.ts';
import { createActivation, deleteActivationAction, describeActivations } from './activations.ts';
import { deleteAttributes, listAttributes, putAttributes } from './attributes.ts';
import {
  createCluster,
  deleteCluster,
  describeClusters,
  listClustersAction,
  updateCluster,
  updateClusterSettings,
} from './clusters.ts';
import {
  deregisterContainerInstanceAction,
  describeContainerInstances,
  listContainerInstances,
  updateContainerInstancesState,
} from './container-instances.ts';
import { createService, deleteService, describeServices, listServices, updateService } from './services.ts';
import { listTagsForResource, tagResource, untagResource } from './tags.ts';
import {
  deregisterTaskDefinition,
  describeTaskDefinitionAction,
  listTaskDefinitionFamilies,
  listTaskDefinitions,
  registerTaskDefinition,
} from './task-definitions.ts';
import { describeTasks, listTasks, runTask, startTask, stopTask } from './tasks.ts';

export const ecsTargetPrefix = 'AmazonEC2ContainerServiceV20141113';
export const ssmTargetPrefix = 'AmazonSSM';

/** Every operation the operator endpoint serves, by `X-Amz-Target`. */
export const actions: Record<string, Action> = {
  [`${ecsTargetPrefix}.CreateCluster`]: createCluster,
  [`${ecsTargetPrefix}.DescribeClusters`]: describeClusters,
  [`${ecsTargetPrefix}.ListClusters`]: listClustersAction,
  [`${ecsTargetPrefix}.DeleteCluster`]: deleteCluster,
  [`${ecsTargetPrefix}.UpdateCluster`]: updateCluster,
  [`${ecsTargetPrefix}.UpdateClusterSettings`]: updateClusterSettings,
  [`${ecsTargetPrefix}.RegisterTaskDefinition`]: registerTaskDefinition,
  [`${ecsTargetPrefix}.DescribeTaskDefinition`]: describeTaskDefinitionAction,
  [`${ecsTargetPrefix}.ListTaskDefinitions`]: listTaskDefinitions,
  [`${ecsTargetPrefix}.ListTaskDefinitionFamilies`]: listTaskDefinitionFamilies,
  [`${ecsTargetPrefix}.DeregisterTaskDefinition`]: deregisterTaskDefinition,
  [`${ecsTargetPrefix}.ListContainerInstances`]: listContainerInstances,
  [`${ecsTargetPrefix}.DescribeContainerInstances`]: describeContainerInstances,
  [`${ecsTargetPrefix}.UpdateContainerInstancesState`]: updateContainerInstancesState,
  [`${ecsTargetPrefix}.DeregisterContainerInstance`]: deregisterContainerInstanceAction,
  [`${ecsTargetPrefix}.PutAttributes`]: putAttributes,
  [`${ecsTargetPrefix}.ListAttributes`]: listAttributes,
  [`${ecsTargetPrefix}.DeleteAttributes`]: deleteAttributes,
  [`${ecsTargetPrefix}.TagResource`]: tagResource,
  [`${ecsTargetPrefix}.UntagResource`]: untagResource,
  [`${ecsTargetPrefix}.ListTagsForResource`]: listTagsForResource,
  [`${ecsTargetPrefix}.CreateService`]: createService,
  [`${ecsTargetPrefix}.UpdateService`]: updateService,
  [`${ecsTargetPrefix}.DeleteService`]: deleteService,
  [`${ecsTargetPrefix}.DescribeServices`]: describeServices,
  [`${ecsTargetPrefix}.ListServices`]: listServices,
  [`${ecsTargetPrefix}.RunTask`]: runTask,
  [`${ecsTargetPrefix}.StartTask`]: startTask,
  [`${ecsTargetPrefix}.StopTask`]: stopTask,
  [`${ecsTargetPrefix}.ListTasks`]: listTasks,
  [`${ecsTargetPrefix}.DescribeTasks`]: describeTasks,
  [`${ssmTargetPrefix}.CreateActivation`]: createActivation,
  [`${ssmTargetPrefix}.DescribeActivations`]: describeActivations,
  [`${ssmTargetPrefix}.DeleteActivation`]: deleteActivationAction,
};

/**
 * What `berth up` serves beside them, as a tiny AWS region for the edge (core/local-aws/): on a
 * stage these are AWS's own services, so the operator endpoint does not answer them there.
 */
export const localActions: Record<string, Action> = {
  [`${ssmTargetPrefix}.PutParameter`]: putParameter,
  [`${ssmTargetPrefix}.GetParameter`]: getParameterAction,
  [`${ssmTargetPrefix}.GetParameters`]: getParameters,
  [`${ssmTargetPrefix}.GetParametersByPath`]: getParametersByPath,
  [`${ssmTargetPrefix}.DeleteParameter`]: deleteParameter,
  [`${ssmTargetPrefix}.DeleteParameters`]: deleteParameters,
  [`${ssmTargetPrefix}.DescribeParameters`]: describeParameters,
};

/** The AWS service an `X-Amz-Target` belongs to: what its signature must be scoped to. */
export const serviceOfTarget = (target: string): 'ecs' | 'ssm' =>
  target.startsWith(`${ssmTargetPrefix}.`) ? 'ssm' : 'ecs';
