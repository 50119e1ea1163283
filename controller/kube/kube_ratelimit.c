#include "kube_ratelimit.h"
