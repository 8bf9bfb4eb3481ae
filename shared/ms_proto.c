/*
 * ms_proto.c - names of the protocol's commands, for logs.
 */
#include "ms_proto.h"

const char *ms_cmd_name(int cmd)
{
    switch (cmd) {
    case MS_CMD_HELLO:
        return "HELLO";
    case MS_CMD_READY:
        return "READY";
    case MS_CMD_TASK:
        return "TASK";
    case MS_CMD_RESULT:
        return "RESULT";
    case MS_CMD_HEARTBEAT:
        return "HEARTBEAT";
    case MS_CMD_BYE:
        return "BYE";
    case MS_CMD_ERROR:
        return "ERROR";
    case MS_CMD_HOLD:
        return "HOLD";
    case MS_CMD_CANCEL:
        return "CANCEL";
    case MS_CMD_DRAIN:
        return "DRAIN";
    case MS_CMD_PROGRESS:
        return "PROGRESS";
    case MS_CMD_BATCH:
        return "BATCH";
    case MS_CMD_REPORT:
        return "REPORT";
    case MS_CMD_HISTORY:
        return "HISTORY";
    case MS_CMD_SNAPSHOTS:
        return "SNAPSHOTS";
    case MS_CMD_CANCEL_RUN:
        return "CANCEL_RUN";
    case MS_CMD_RUN:
        return "RUN";
    case MS_CMD_RUN_STARTED:
        return "RUN_STARTED";
    case MS_CMD_RUN_DONE:
        return "RUN_DONE";
    case MS_CMD_STATUS:
        return "STATUS";
    case MS_CMD_STATUS_REPLY:
        return "STATUS_REPLY";
    case MS_CMD_WAIT:
        return "WAIT";
    default:
        return "UNKNOWN";
    }
}
