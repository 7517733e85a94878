"""SKNet: selective kernel units softly choose, per channel, between a 3x3 and a dilated 3x3 branch."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 16
DEPTH = 1
STAGES = 3
KERNEL = 3
REDUCTION = 4
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class ConvBlock(nn.Module):
    def __init__(self, in_channels, channels, kernel_size=KERNEL, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class SelectiveKernel(nn.Module):
    def __init__(self, channels, stride=1):
        super().__init__()
        hidden = max(8, channels // REDUCTION)
        self.near = ConvBlock(channels, channels, KERNEL, stride)
        self.far = nn.Sequential(
            nn.Conv2d(channels, channels, KERNEL, stride, 2 * (KERNEL // 2), dilation=2, bias=False),
            NORM(channels),
            ACTIVATION(),
        )
        self.squeeze = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), ACTIVATION())
        self.select = nn.Conv2d(hidden, channels * 2, 1)

    def forward(self, x):
        near, far = self.near(x), self.far(x)
        weights = self.select(self.squeeze(near + far))
        weights = F.softmax(weights.view(x.shape[0], 2, -1, 1, 1), dim=1)
        return weights[:, 0] * near + weights[:, 1] * far


class ResidualBlock(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.reduce = ConvBlock(in_channels, channels, 1)
        self.select = SelectiveKernel(channels, stride)
        self.expand = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm = NORM(channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False), NORM(channels))
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.expand(self.select(self.reduce(x)))) + self.shortcut(x))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = ConvBlock(in_channels, channels, KERNEL, stride)
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            stride = 2 if stage > 0 and size >= 4 else 1
            size = size // stride
            for index in range(DEPTH):
                layers.append(ResidualBlock(channels, width, stride if index == 0 else 1))
                channels = width
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
