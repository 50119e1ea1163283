#include "kube_workqueue.h"
