#include "kube_leader.h"
