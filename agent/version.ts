/** Sent at registration (the instance's versionInfo.agentVersion). */
export const agentVersion = '0.1.0';
