#include "kube_status.h"
