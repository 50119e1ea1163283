#include "kube_informer.h"
