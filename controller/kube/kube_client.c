#include "kube_client.h"
