#include "kube_config.h"
